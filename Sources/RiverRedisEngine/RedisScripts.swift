/// The Lua scripts River runs in Redis. Each is atomic, so `seq` is
/// assigned, stored and announced in one step whichever node publishes.
///
/// Keys of a channel NAME (the braces are a Redis Cluster hash tag, keeping
/// a channel's keys together): `river:{NAME}:meta`, a hash with `seq`,
/// `epoch` (a random id of this incarnation of the channel) and `last`
/// (milliseconds of the last publish); `river:{NAME}:history`, a stream
/// whose entry ids are `SEQ-0` with fields `t` (milliseconds) and `d` (the
/// message). `river:channels` is a sorted set of channel names (for the
/// listing), `river:stats` a hash of counters. Live messages go out on the
/// pub/sub channel `river:{NAME}` as `m EPOCH SEQ\n` followed by the message;
/// `d` announces the channel's deletion.
enum RedisScripts {
    /// Publishes a message.
    static let publish = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream, KEYS[3] channel index, KEYS[4] stats hash
        -- ARGV[1] message, ARGV[2] pub/sub channel, ARGV[3] history size (0: keep none),
        -- ARGV[4] history TTL (ms), ARGV[5] idle TTL (ms): how long the meta outlives the history,
        -- ARGV[6] channel name, ARGV[7] epoch for a channel that does not exist yet
        -- Returns {seq, epoch}.
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[7]
          redis.call('HSET', KEYS[1], 'epoch', epoch)
        end
        local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        redis.call('HSET', KEYS[1], 'last', now)
        local ttl = tonumber(ARGV[4])
        if tonumber(ARGV[3]) > 0 then
          redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], string.format('%d-0', seq), 't', now, 'd', ARGV[1])
          -- Expired entries go at publish time, a bounded number at once.
          for _ = 1, 32 do
            local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
            if not first or tonumber(first[2][2]) > now - ttl then break end
            redis.call('XDEL', KEYS[2], first[1])
          end
          redis.call('PEXPIRE', KEYS[2], ttl)
        end
        redis.call('PEXPIRE', KEYS[1], ttl + tonumber(ARGV[5]))
        redis.call('ZADD', KEYS[3], 0, ARGV[6])
        redis.call('HINCRBY', KEYS[4], 'published', 1)
        redis.call('PUBLISH', ARGV[2], string.format('m %s %d\\n', epoch, seq) .. ARGV[1])
        return {seq, epoch}
        """
    )

    /// What a subscriber resuming after a seq receives; creates the channel
    /// (with a new epoch) when it does not exist.
    static let catchUp = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream
        -- ARGV[1] seq to resume after ('': live only), ARGV[2] the client's epoch ('': unknown),
        -- ARGV[3] history TTL (ms), ARGV[4] idle TTL (ms), ARGV[5] epoch for a channel that does not exist yet
        -- Returns {seq, epoch, reset (1 when the client's seq or epoch is not this channel's),
        --          entries}: entries are the retained messages after the seq (all of them after a
        --          reset), unexpired, as XRANGE gives them: {id, {'t', ms, 'd', message}}.
        local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
        local seq = tonumber(meta[1] or '0')
        local epoch = meta[2]
        if not epoch then
          epoch = ARGV[5]
          redis.call('HSET', KEYS[1], 'seq', seq, 'epoch', epoch)
          redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[4]))
        end
        local reset = 0
        local after = 0
        if ARGV[1] ~= '' then
          after = tonumber(ARGV[1])
          if after > seq or (ARGV[2] ~= '' and ARGV[2] ~= epoch) then
            reset = 1
            after = 0
          end
        else
          after = seq
        end
        local entries = {}
        if after < seq then
          local time = redis.call('TIME')
          local cutoff = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - tonumber(ARGV[3])
          for _, entry in ipairs(redis.call('XRANGE', KEYS[2], string.format('%d-0', after + 1), '+')) do
            if tonumber(entry[2][2]) > cutoff then table.insert(entries, entry) end
          end
        end
        return {seq, epoch, reset, entries}
        """
    )

    /// Channel facts for GET /channels/NAME.
    static let info = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream
        -- Returns {seq, epoch, last publish ms ('' if none), retained count, first retained id ('' if none)},
        -- or nil when the channel does not exist.
        local meta = redis.call('HMGET', KEYS[1], 'seq', 'epoch', 'last')
        if not meta[2] then return nil end
        local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
        return {meta[1] or '0', meta[2], meta[3] or '', redis.call('XLEN', KEYS[2]), first and first[1] or ''}
        """
    )

    /// DELETE /channels/NAME: drops the channel and tells every node.
    static let delete = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream, KEYS[3] channel index
        -- ARGV[1] pub/sub channel, ARGV[2] channel name
        -- Returns 1 when the channel existed.
        local existed = redis.call('EXISTS', KEYS[1])
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('ZREM', KEYS[3], ARGV[2])
        if existed == 1 then redis.call('PUBLISH', ARGV[1], 'd') end
        return existed
        """
    )

    /// One page of GET /channels.
    static let list = RedisScript(
        """
        -- KEYS[1] channel index
        -- ARGV[1] prefix, ARGV[2] list names after this one ('': from the start), ARGV[3] page size,
        -- ARGV[4] key prefix ('river:'). Reads the meta keys of the names it finds (not in KEYS:
        -- one Redis, or one shard per channel index).
        -- Returns up to ARGV[3] names in byte order; names whose channel expired are dropped from the index.
        local start = '[' .. ARGV[1]
        if ARGV[2] ~= '' and ARGV[2] >= ARGV[1] then start = '(' .. ARGV[2] end
        local stop = '[' .. ARGV[1] .. '\\255'
        local limit = tonumber(ARGV[3])
        local result = {}
        for _ = 1, 10 do
          local names = redis.call('ZRANGE', KEYS[1], start, stop, 'BYLEX', 'LIMIT', 0, limit)
          if #names == 0 then break end
          for _, name in ipairs(names) do
            if redis.call('EXISTS', ARGV[4] .. '{' .. name .. '}:meta') == 1 then
              table.insert(result, name)
              if #result == limit then return result end
            else
              redis.call('ZREM', KEYS[1], name)
            end
            start = '(' .. name
          end
        end
        return result
        """
    )
}
