/// The Lua scripts River runs in Redis. Each is atomic, so `seq` is
/// assigned, stored and announced in one step whichever node publishes.
///
/// A channel NAME lives on one shard (the braces in its keys are a Redis
/// Cluster hash tag, keeping them together):
/// - `river:{NAME}:meta`, a hash: `e` is the epoch (a random id of this
///   incarnation of the channel) and the field named by the epoch holds the
///   channel's `seq` (so a publish that names the right epoch checks it and
///   counts in one command); `l` is the last publish (Unix ms) when no
///   history is kept.
/// - `river:{NAME}:history`, a stream capped at about the history size
///   (`MAXLEN ~`), entries `SEQ-MS` with one field `t` (text) or `b`
///   (binary) holding the message (`MessageEncoding.swift`).
/// - the pub/sub channel `river:{NAME}`, carrying `KIND EPOCH SEQ\n` +
///   message, or `d` when the channel is deleted.
///
/// Per shard, `river:channels` is a sorted set of the shard's channel names
/// and `river:stats` a hash of counters.
enum RedisScripts {
    /// Every script River runs, loaded (SCRIPT LOAD) on each command connection before
    /// anything else: EVALSHA then never meets NOSCRIPT, whose EVAL retry would run a
    /// message after ones sent behind it (a fresh or restarted Redis, pipelined publishes).
    static var all: [RedisScript] {
        [publish, catchUp, info, delete, list, PresenceScripts.update, PresenceScripts.read, PresenceScripts.heartbeat]
    }

    /// Publishes a message: the only script on the hot path. In the common
    /// case (the node knows the epoch, the expiry was pushed forward lately)
    /// it runs three commands: HINCRBY, XADD, PUBLISH.
    static let publish = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream, KEYS[3] channel index
        -- ARGV[1] message, ARGV[2] kind ('t' text, 'b' binary), ARGV[3] pub/sub channel,
        -- ARGV[4] history size (0: keep none), ARGV[5] now (Unix ms, the node's clock),
        -- ARGV[6] the epoch the node believes the channel has ('': unknown),
        -- ARGV[7] a new epoch, for a channel that does not exist,
        -- ARGV[8] '1' to push the keys' expiry forward ('0': the node did so lately; a new channel or
        --         an epoch the node did not know pushes it forward anyway),
        -- ARGV[9] history lifetime (ms), ARGV[10] meta lifetime (ms), ARGV[11] channel name.
        -- Returns seq when ARGV[6] is the channel's epoch, else {seq, epoch}.
        local seq, epoch = false, ARGV[6]
        if epoch ~= '' then
          seq = redis.call('HINCRBY', KEYS[1], epoch, 1)
          if seq == 1 and redis.call('HGET', KEYS[1], 'e') ~= epoch then
            redis.call('HDEL', KEYS[1], epoch)
            seq = false
          end
        end
        local told = seq
        if not seq then
          epoch = redis.call('HGET', KEYS[1], 'e')
          if not epoch then
            epoch = ARGV[7]
            redis.call('HSET', KEYS[1], 'e', epoch)
            redis.call('DEL', KEYS[2])
          end
          seq = redis.call('HINCRBY', KEYS[1], epoch, 1)
        end
        local refresh = ARGV[8] == '1' or not told or seq == 1
        if seq == 1 then redis.call('ZADD', KEYS[3], 0, ARGV[11]) end
        if refresh then redis.call('PEXPIRE', KEYS[1], ARGV[10]) end
        local id = string.format('%d', seq)
        if ARGV[4] ~= '0' then
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], id .. '-' .. ARGV[5], ARGV[2], ARGV[1])
          if refresh then redis.call('PEXPIRE', KEYS[2], ARGV[9]) end
        else
          redis.call('HSET', KEYS[1], 'l', ARGV[5])
        end
        redis.call('PUBLISH', ARGV[3], ARGV[2] .. ' ' .. epoch .. ' ' .. id .. '\\n' .. ARGV[1])
        if told then return seq end
        return {seq, epoch}
        """
    )

    /// What a subscriber resuming after a seq receives; creates the channel
    /// (with a new epoch) when it does not exist.
    static let catchUp = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream
        -- ARGV[1] seq to resume after ('': live only), ARGV[2] the client's epoch ('': unknown),
        -- ARGV[3] history size, ARGV[4] meta lifetime (ms), ARGV[5] epoch for a channel that does not exist yet
        -- Returns {seq, epoch, reset (1 when the client's seq or epoch is not this channel's), entries}:
        -- entries are the messages after the seq (all retained after a reset), at most the history size,
        -- as XRANGE gives them: {'SEQ-MS', {KIND, message}}; the node drops those older than the history TTL.
        local epoch = redis.call('HGET', KEYS[1], 'e')
        local seq = 0
        if epoch then
          seq = tonumber(redis.call('HGET', KEYS[1], epoch) or '0')
        else
          epoch = ARGV[5]
          redis.call('HSET', KEYS[1], 'e', epoch, epoch, 0)
          redis.call('PEXPIRE', KEYS[1], ARGV[4])
          redis.call('DEL', KEYS[2])
        end
        local reset, after = 0, seq
        if ARGV[1] ~= '' then
          after = tonumber(ARGV[1])
          if after > seq or (ARGV[2] ~= '' and ARGV[2] ~= epoch) then
            reset = 1
            after = 0
          end
        end
        local entries = {}
        local size = tonumber(ARGV[3])
        if after < seq and size > 0 then
          local first = math.max(after + 1, seq - size + 1)
          entries = redis.call('XRANGE', KEYS[2], string.format('%d', first), '+')
        end
        return {seq, epoch, reset, entries}
        """
    )

    /// Channel facts for GET /channels/NAME.
    static let info = RedisScript(
        """
        -- KEYS[1] meta hash, KEYS[2] history stream
        -- ARGV[1] history size, ARGV[2] the oldest publish time still retained (Unix ms)
        -- Returns {seq, epoch, last publish ms ('' if unknown), first retained seq (0: none)},
        -- or nil when the channel does not exist.
        local epoch = redis.call('HGET', KEYS[1], 'e')
        if not epoch then return nil end
        local seq = tonumber(redis.call('HGET', KEYS[1], epoch) or '0')
        local last = redis.call('HGET', KEYS[1], 'l') or ''
        local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
        if newest then last = string.match(newest[1], '-(%d+)$') end
        local from = math.max(1, seq - tonumber(ARGV[1]) + 1)
        local cutoff = tonumber(ARGV[2])
        for _ = 1, 100 do
          local page = redis.call('XRANGE', KEYS[2], string.format('%d', from), '+', 'COUNT', 100)
          if #page == 0 then break end
          for _, entry in ipairs(page) do
            local entrySeq, millis = string.match(entry[1], '^(%d+)-(%d+)$')
            if tonumber(millis) > cutoff then return {seq, epoch, last, tonumber(entrySeq)} end
          end
          from = tonumber(string.match(page[#page][1], '^(%d+)')) + 1
        end
        return {seq, epoch, last, 0}
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

    /// One page of GET /channels, from one shard.
    static let list = RedisScript(
        """
        -- KEYS[1] channel index
        -- ARGV[1] prefix, ARGV[2] list names after this one ('': from the start), ARGV[3] page size,
        -- ARGV[4] key prefix ('river:'). Reads the meta keys of the names it finds (not in KEYS:
        -- they are on this shard, as the index is).
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
