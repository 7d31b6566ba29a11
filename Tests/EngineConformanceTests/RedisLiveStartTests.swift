import NIOCore
import RiverCore
import RiverTesting
import Testing

extension EngineConformanceTests {
    /// The Redis engine's shortcut: a live start on a channel the node already
    /// follows (its feed active, nothing missing) starts where the feed stands
    /// and asks Redis nothing; a resume still reads its catch-up from Redis.
    /// Redis's slow log, set to keep every command, shows which commands read
    /// the channel's history (the catch-up script names its key; presence
    /// counts, written on their own schedule, name other keys).
    @Test func aLiveStartOnAFollowedChannelAsksRedisNothing() async throws {
        var started: RedisServerProcess?
        let noteRedis: (RedisServerProcess) -> Void = { started = $0 }
        try await withEngine(.redis, redisStarted: noteRedis) { engine, fanOut, group in
            let redis = try #require(started)
            let channel = self.name("followed")
            let history = "river:{followed}:history"
            let (first, _) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .live)
            try await self.publish(engine, 2, to: channel, on: group.next())
            try await RiverTesting.eventually("the feed forwarded both") { try await self.received(first) == [1, 2] }

            _ = try await redis.ask("CONFIG", "SET", "slowlog-log-slower-than", "0")
            _ = try await redis.ask("CONFIG", "SET", "slowlog-max-len", "1000")
            _ = try await redis.ask("SLOWLOG", "RESET")
            let (second, live) = try await self.subscribe(engine, fanOut, hub: 1, to: channel, from: .live)
            let commands = try await redis.askWhole(["SLOWLOG", "GET", "1000"])
            #expect(!commands.contains(history), "\(commands)")
            #expect(live.lastSeq == 2)
            #expect(live.messages.isEmpty && live.notices.isEmpty)
            try await self.publish(engine, 1, to: channel, on: group.next())
            try await RiverTesting.eventually("the second starts live after 2") {
                try await self.received(second) == [3]
            }

            _ = try await redis.ask("SLOWLOG", "RESET")
            let (_, resumed) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .init(seq: 1))
            #expect(resumed.messages.map(\.seq) == [2, 3])
            #expect(try await redis.askWhole(["SLOWLOG", "GET", "1000"]).contains(history))
        }
    }
}
