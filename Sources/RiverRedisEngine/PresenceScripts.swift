/// The Lua scripts that keep presence (PROTOCOL.md C3) across nodes.
///
/// Each event loop of each node is a presence *node* in Redis, named by 16
/// random hex digits. For a channel NAME, on the channel's shard:
/// - `river:{NAME}:presence`, a hash: `c:NODE` is the node's subscriptions
///   to the channel; `n:NODE:KEY` a member's subscriptions on that node (0
///   while its leave waits out `presence_leave_delay` there); `u:KEY` how
///   many nodes list the member; `i:KEY` its latest info (`''`: none). KEY
///   is `v` (verified) or `u` (self-named) followed by the user's bytes.
/// - joins and leaves go out on the channel's pub/sub channel as
///   `j LEN KEY INFO` / `l LEN KEY INFO` (LEN: KEY's length in bytes), when
///   a member's first node takes it and when its last node lets go — so an
///   event is global, whichever nodes the member's connections are on.
///
/// Per shard, `river:presence:nodes` is a sorted set of nodes scored by the
/// Unix ms their heartbeat expires, and `river:presence:node:NODE` the set
/// of channel names where NODE holds a share: what to take back when it dies.
enum PresenceScripts {
    /// A node's changes to one channel's presence, batched (one call per
    /// channel per flush, however many subscriptions came and went).
    static let update = RedisScript(
        """
        -- KEYS[1] the channel's presence hash, KEYS[2] this node's set of channels
        -- ARGV[1] node, ARGV[2] the node's subscriptions to the channel, ARGV[3] '1' when the node holds
        -- nothing here any more, ARGV[4] the channel's pub/sub channel, ARGV[5] the channel name,
        -- then from ARGV[6] triples: member KEY, its subscriptions on this node ('-1': it left the node), info.
        -- Returns the number of joins and leaves published.
        local hash, node, events = KEYS[1], ARGV[1], 0
        for i = 6, #ARGV, 3 do
          local key, count, info = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
          local field = 'n:' .. node .. ':' .. key
          if count >= 0 then
            redis.call('HSET', hash, 'i:' .. key, info)
            if redis.call('HSET', hash, field, count) == 1 and redis.call('HINCRBY', hash, 'u:' .. key, 1) == 1 then
              redis.call('PUBLISH', ARGV[4], 'j ' .. #key .. ' ' .. key .. info)
              events = events + 1
            end
          elseif redis.call('HDEL', hash, field) == 1 and redis.call('HINCRBY', hash, 'u:' .. key, -1) <= 0 then
            local last = redis.call('HGET', hash, 'i:' .. key) or ''
            redis.call('HDEL', hash, 'u:' .. key, 'i:' .. key)
            redis.call('PUBLISH', ARGV[4], 'l ' .. #key .. ' ' .. key .. last)
            events = events + 1
          end
        end
        if ARGV[3] == '1' then
          redis.call('HDEL', hash, 'c:' .. node)
          redis.call('SREM', KEYS[2], ARGV[5])
        else
          redis.call('HSET', hash, 'c:' .. node, ARGV[2])
          redis.call('SADD', KEYS[2], ARGV[5])
        end
        return events
        """
    )

    /// Who is on a channel, over every node whose heartbeat has not expired.
    static let read = RedisScript(
        """
        -- KEYS[1] the channel's presence hash, KEYS[2] the shard's node set; ARGV[1] now (Unix ms),
        -- ARGV[2] the reading node (alive, whether or not its first heartbeat has landed).
        -- Returns {subscriptions, {KEY, info, subscriptions, KEY, ...}}.
        local alive = {[ARGV[2]] = true}
        local function live(node)
          if alive[node] == nil then
            local expiry = redis.call('ZSCORE', KEYS[2], node)
            alive[node] = expiry ~= false and tonumber(expiry) >= tonumber(ARGV[1])
          end
          return alive[node]
        end
        local all = redis.call('HGETALL', KEYS[1])
        local connections, counts, infos, order = 0, {}, {}, {}
        for i = 1, #all, 2 do
          local field, value = all[i], all[i + 1]
          local kind = field:sub(1, 2)
          if kind == 'c:' then
            if live(field:sub(3)) then connections = connections + tonumber(value) end
          elseif kind == 'n:' then
            local key = field:sub(20)
            if live(field:sub(3, 18)) then
              if counts[key] == nil then
                counts[key] = 0
                order[#order + 1] = key
              end
              counts[key] = counts[key] + tonumber(value)
            end
          elseif kind == 'i:' then
            infos[field:sub(3)] = value
          end
        end
        local members = {}
        for _, key in ipairs(order) do
          members[#members + 1] = key
          members[#members + 1] = infos[key] or ''
          members[#members + 1] = counts[key]
        end
        return {connections, members}
        """
    )

    /// A node's heartbeat on one shard, and the reaping of every node whose
    /// heartbeat expired: their members leave (events published) and their
    /// shares go. Every node runs it every second; the first to find a dead
    /// node does the work, atomically.
    static let heartbeat = RedisScript(
        """
        -- KEYS[1] the shard's node set; ARGV[1] node, ARGV[2] its heartbeat's expiry (Unix ms; '0': it is
        -- leaving, reap it now), ARGV[3] now (Unix ms), ARGV[4] most dead nodes to reap in one call.
        -- Returns 1 when the node was not in the set (it was reaped, or Redis lost it: write its shares again).
        local fresh = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
        for _, node in ipairs(dead) do
          local channels = 'river:presence:node:' .. node
          local prefix = 'n:' .. node .. ':'
          for _, name in ipairs(redis.call('SMEMBERS', channels)) do
            local hash, pubsub = 'river:{' .. name .. '}:presence', 'river:{' .. name .. '}'
            for _, field in ipairs(redis.call('HKEYS', hash)) do
              if field:sub(1, #prefix) == prefix then
                local key = field:sub(#prefix + 1)
                redis.call('HDEL', hash, field)
                if redis.call('HINCRBY', hash, 'u:' .. key, -1) <= 0 then
                  local info = redis.call('HGET', hash, 'i:' .. key) or ''
                  redis.call('HDEL', hash, 'u:' .. key, 'i:' .. key)
                  redis.call('PUBLISH', pubsub, 'l ' .. #key .. ' ' .. key .. info)
                end
              end
            end
            redis.call('HDEL', hash, 'c:' .. node)
          end
          redis.call('DEL', channels)
          redis.call('ZREM', KEYS[1], node)
        end
        return fresh
        """
    )
}
