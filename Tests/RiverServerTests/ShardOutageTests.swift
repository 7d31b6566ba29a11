import Foundation
import RiverCore
import RiverRedisEngine
import RiverServer
import RiverTesting
import Testing

/// With the Redis engine, what every route answers when something River
/// depends on fails: a shard's redis-server killed or frozen, the master
/// Sentinel names gone, Sentinel itself gone. No route answers 500 for it.
/// The channels of a shard that is down, and the channel listing, answer 503
/// naming the shard; `/stats` and `/metrics` answer 200 and list it;
/// `/health` and static files do not depend on it; the other shard's
/// channels go on (docs/ScalingOut.md, "Faults"; docs/Operations.md).
/// Live: a real `RiverServer` (two loops) and real redis-server processes.
/// The time limit is a backstop against a hang: alone the suite takes 7 to
/// 13 s, but in the whole run on two shared cores everything waits its turn,
/// and it has taken 5 minutes there.
@Suite(.timeLimit(.minutes(10))) struct ShardOutageTests {
    /// The Redis engine on `shards`, by address.
    func redis(_ shards: [RedisServerProcess]) throws -> RiverConfiguration {
        let addresses = try shards.map { try RedisAddress($0.url) }
        return configured {
            $0.engine = .redis
            $0.redis = addresses
        }
    }

    /// The Redis engine on one shard, its master found through `sentinel`.
    func redis(through sentinel: RedisSentinelProcess) throws -> RiverConfiguration {
        let address = try RedisAddress(sentinel: sentinel.address)
        return configured {
            $0.engine = .redis
            $0.redisSentinels = [address]
            $0.redisMasters = [sentinel.masterName]
        }
    }

    /// Which of `shards` holds `channel`'s keys, asked of Redis through the kit's live transport.
    func shard(of channel: String, among shards: [RedisServerProcess]) async throws -> Int {
        var holders: [Int] = []
        for (index, shard) in shards.enumerated() {
            if try await shard.ask("EXISTS", "river:{\(channel)}:meta") == ":1" { holders.append(index) }
        }
        guard holders.count == 1 else { throw TestFailure("\(channel) is on shards \(holders)") }
        return holders[0]
    }

    /// Channels `c0`… published to (seq 1), sorted by the shard holding them.
    func channels(on shards: [RedisServerProcess], in river: TestRiver) async throws -> [[String]] {
        var placed = Array(repeating: [String](), count: shards.count)
        for index in 0..<16 {
            try await river.publish("c\(index)", "before")
            placed[try await self.shard(of: "c\(index)", among: shards)].append("c\(index)")
        }
        return placed
    }

    /// Until publishes to `channel` answer 503 through every loop (two new
    /// connections in a row go to both): River has noticed the shard is down.
    func waitUntilRefusing(_ channel: String, in river: TestRiver) async throws {
        try await eventually("publishes to \(channel) answer 503") {
            for _ in 0..<2 {
                let answer = try await river.request("GET", "/publish?name=\(channel)&data=probe")
                guard answer.status == 503 else { return false }
            }
            return true
        }
    }

    /// Until `channels` are served again: publishes through every loop
    /// (two new connections in a row go to both) and a subscription (on the
    /// channel's home loop, whichever connection asks) succeed.
    func waitUntilServing(_ channels: [String], in river: TestRiver) async throws {
        try await eventually("\(channels) served again") {
            for channel in channels {
                for _ in 0..<2 {
                    let answer = try await river.request("GET", "/publish?name=\(channel)&data=probe")
                    guard answer.status == 200 else { return false }
                }
                let stream = try await river.connect()
                try await stream.sendRequest("GET", "/subscribe?name=\(channel)&hello=1")
                let status = try await stream.readHead().status
                await stream.close()
                guard status == 200 else { return false }
            }
            return true
        }
    }

    /// A shard that is down: its place in the list (from 1), how many there
    /// are, where it is as River names it, and a channel it holds.
    struct DownShard {
        let number: Int
        let count: Int
        let location: String
        let channel: String

        var name: String { "Redis shard \(self.number) of \(self.count) (\(self.location))" }
    }

    /// Every route, for a channel of the shard that is `down` (if one is)
    /// and for two channels of shards that are `up` (if given), with what
    /// each must answer.
    func sweep(down: DownShard?, up: [String]) -> RouteSweep {
        var sweep = RouteSweep()
        if let down {
            let (channel, named) = (down.channel, ["engine unavailable: " + down.name])
            sweep.request("GET", "/publish?name=\(channel)&data=x", 503, says: named)
            sweep.stream("/subscribe?name=\(channel)&hello=1", 503, says: ["cannot subscribe to \(channel)"] + named)
            sweep.stream("/sse?name=\(channel)&hello=1", 503, says: ["cannot subscribe to \(channel)"] + named)
            // The handshake is answered before the subscription; the subscription's failure closes it.
            sweep.webSocket("/websocket?name=\(channel)", 101, says: ["close 1011 cannot subscribe to \(channel)"])
            sweep.request("GET", "/channels/\(channel)", 503, says: ["cannot read channel \(channel)"] + named)
            sweep.request("DELETE", "/channels/\(channel)", 503, says: ["cannot delete channel \(channel)"] + named)
            sweep.request("GET", "/channels", 503, says: ["cannot list channels"] + named)
            sweep.request("GET", "/channels?prefix=c&limit=2", 503, says: ["cannot list channels"] + named)
            let listed = #""unavailable_shards": [{"shard": \#(down.number), "redis": "\#(down.location)""#
            sweep.request("GET", "/stats", 200, says: [#""engine": "redis "#, listed])
            sweep.request("GET", "/metrics", 200, says: ["\nriver_unavailable_shards 1.0\n"])
        } else {
            sweep.request("GET", "/channels?prefix=c&limit=2", 200, says: [#"{"channels": ["#])
            sweep.request("GET", "/stats", 200, says: [#""engine": "redis "#, #""unavailable_shards": []}"#])
            sweep.request("GET", "/metrics", 200, says: ["\nriver_unavailable_shards 0.0\n"])
        }
        // The page never asks the engine; its stream reports the shards (DashboardTests).
        sweep.request("GET", "/dashboard", 200, says: ["<title>River dashboard</title>"])
        if up.count == 2 {
            let (first, second) = (up[0], up[1])
            sweep.request("GET", "/publish?name=\(first)&data=x", 200, says: [#"{"channel": "\#(first)", "seq": "#])
            sweep.stream("/subscribe?name=\(first)&hello=1", 200, says: [#"["live", {"channel": "\#(first)""#])
            sweep.stream("/sse?name=\(first)&hello=1", 200, says: ["event: live"])
            sweep.webSocket("/websocket?name=\(first)&hello=1", 101, says: [#"["live", {"channel": "\#(first)""#])
            sweep.request("GET", "/channels/\(first)", 200, says: [#"{"channel": "\#(first)", "seq": "#])
            sweep.request("DELETE", "/channels/\(second)", 200, says: [#""deleted": true"#])
        }
        sweep.request("GET", "/health", 200, says: ["ok\n"])
        sweep.request("GET", "/lib.js", 200, says: ["Comet"])
        sweep.request("GET", "/crossdomain.xml", 200)
        return sweep
    }

    /// `/stats`'s `redis_shards`, by shard number.
    func shardHealth(_ stats: String) throws -> [Int: (state: String, latency: Int?, reconnects: Int)] {
        let document = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any] ?? [:]
        var health: [Int: (state: String, latency: Int?, reconnects: Int)] = [:]
        for case let shard as [String: Any] in document["redis_shards"] as? [Any] ?? [] {
            guard let number = shard["shard"] as? Int else { continue }
            health[number] = (
                shard["state"] as? String ?? "?", shard["latency_us"] as? Int, shard["reconnects"] as? Int ?? -1
            )
        }
        return health
    }

    /// A shard's redis-server is killed: its channels and the listing answer
    /// 503 at once, naming it; the rest as documented; once it is back, all
    /// of it again.
    @Test func aKilledShard() async throws {
        let shards = [try await RedisServerProcess.launch(), try await RedisServerProcess.launch()]
        try await withRiver(.live, try self.redis(shards), threads: 2) { river in
            let placed = try await self.channels(on: shards, in: river)
            let (up, down) = (Array(placed[0].prefix(2)), try #require(placed[1].first))
            try #require(up.count == 2)

            try await shards[1].halt()
            try await self.waitUntilRefusing(down, in: river)
            let shard = DownShard(number: 2, count: 2, location: shards[1].url, channel: down)
            var broken = await self.sweep(down: shard, up: up).check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains(#""reason": "not connected to Redis"}]"#), "\(stats)")
            #expect(stats.contains(#"{"shard": 2, "state": "down", "latency_us": null, "reconnects": 0}"#), "\(stats)")

            try await shards[1].restart()
            try await self.waitUntilServing([down] + up, in: river)
            broken = await self.sweep(down: nil, up: up).check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
            let after = try await river.request("GET", "/stats").body
            #expect(after.contains(#""unavailable_shards": []}"#))
            let health = try self.shardHealth(after)
            #expect(health[1]?.latency != nil && health[2]?.latency != nil, "both answer: \(after)")
            #expect(health[1]?.reconnects == 0, "the first shard never went: \(after)")
            #expect((health[2]?.reconnects ?? 0) >= 1, "the second came back: \(after)")
        }
    }

    /// A shard's redis-server is frozen (SIGSTOP): connections stay open and
    /// nothing answers. What needs it answers 503 once River gives up on the
    /// shard (`replyTimeout`, 5 s, checked every second); the rest at once.
    @Test func aFrozenShard() async throws {
        // (The frozen one is killed with the rest.)
        let shards = [try await RedisServerProcess.launch(), try await RedisServerProcess.launch()]
        try await withRiver(.live, try self.redis(shards), threads: 2) { river in
            let placed = try await self.channels(on: shards, in: river)
            let (up, down) = (Array(placed[0].prefix(2)), try #require(placed[1].first))
            try #require(up.count == 2)

            shards[1].suspend()
            var sweep = self.sweep(down: DownShard(number: 2, count: 2, location: shards[1].url, channel: down), up: up)
            // A call may wait out two reply timeouts: one before a reconnect, one after.
            sweep.readTimeout = .seconds(30)
            let broken = await sweep.check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
        }
    }

    /// The only shard is a master found through Sentinel, and it dies with
    /// no replica to take over: every channel answers 503 naming the shard.
    @Test func aSentinelMasterWithNoReplicaDies() async throws {
        let master = try await RedisServerProcess.launch()
        let sentinel = try await RedisSentinelProcess.launch(monitoring: master.port)
        try await withRiver(.live, try self.redis(through: sentinel), threads: 2) { river in
            for name in ["c0", "c1"] { try await river.publish(name, "before") }

            try await master.halt()
            try await self.waitUntilRefusing("c0", in: river)
            let location = "master \(sentinel.masterName) (\(master.url))"
            let shard = DownShard(number: 1, count: 1, location: location, channel: "c0")
            let broken = await self.sweep(down: shard, up: []).check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
            // Sentinel finds it down, with nothing to promote: down, and /stats says why.
            try await eventually("/stats says what Sentinel found") {
                try await river.request("GET", "/stats").body.contains(
                    "Sentinel finds it down with no replica to promote"
                )
            }
            #expect(try self.shardHealth(try await river.request("GET", "/stats").body)[1]?.state == "down")
        }
    }

    /// Sentinel agrees the master is down and is failing it over, but cannot be
    /// authorised yet (the second of two Sentinels is frozen, so no majority
    /// elects a leader): the shard is `switching` on /stats and /metrics, not
    /// `down`. Once the second Sentinel is back the replica is promoted and
    /// the shard is `up` again, on it.
    @Test func aShardSentinelIsFailingOverIsSwitching() async throws {
        let fastSync = ["--repl-diskless-sync-delay", "0"]
        let master = try await RedisServerProcess.launch(extraArguments: fastSync)
        let replica = try await RedisServerProcess.launch(
            extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(master.port)]
        )
        let sentinels = [
            try await RedisSentinelProcess.launch(monitoring: master.port, failoverTimeoutMillis: 1500),
            try await RedisSentinelProcess.launch(monitoring: master.port, failoverTimeoutMillis: 1500),
        ]
        try await eventually("the Sentinels know the replica and each other", timeout: .seconds(20)) {
            for sentinel in sentinels {
                guard (try? await sentinel.knownReplicas()) == 1, (try? await sentinel.knownSentinels()) == 1 else {
                    return false
                }
            }
            return true
        }
        try await withRiver(.live, try self.redis(through: sentinels[0]), threads: 2) { river in
            try await river.publish("c0", "before")
            #expect(try self.shardHealth(try await river.request("GET", "/stats").body)[1]?.state == "up")
            sentinels[1].suspend()
            try await master.halt()
            try await eventually("the shard is switching", timeout: .seconds(20)) {
                try self.shardHealth(try await river.request("GET", "/stats").body)[1]?.state == "switching"
            }
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains("; Sentinel is failing it over\"}]"), "\(stats)")
            let metrics = try await river.request("GET", "/metrics").body
            #expect(metrics.contains(#"river_redis_shard_state{shard="1",state="switching"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"river_redis_shard_state{shard="1",state="down"} 0"#), "\(metrics)")
            #expect(try await river.request("GET", "/publish?name=c0&data=x").status == 503)
            // The dashboard's stream says so too (its page draws the shard amber, with the reason).
            let watcher = try await river.connect()
            try await watcher.sendRequest("GET", "/stats/stream")
            #expect(try await watcher.readHead().status == 200)
            let sample = try await DashboardTests.SampleReader(watcher).next()
            let shards = sample["shards"] as? [String: Any]
            #expect((shards?["health"] as? [[String: Any]])?.first?["state"] as? String == "switching", "\(sample)")
            await watcher.close()

            sentinels[1].resume()
            try await eventually("the replica is promoted and serves", timeout: .seconds(30)) {
                try self.shardHealth(try await river.request("GET", "/stats").body)[1]?.state == "up"
            }
            #expect(try await sentinels[0].currentMasterPort() == replica.port)
            let published = try await river.request("GET", "/publish?name=c0&data=after")
            #expect(published.status == 200, "\(published.body)")
        }
    }

    /// Sentinel dies, then the master restarts (empty) where it was: River
    /// keeps the master it knows, reconnects to it, and every route answers
    /// as usual.
    @Test func sentinelGoneMasterBack() async throws {
        let master = try await RedisServerProcess.launch()
        let sentinel = try await RedisSentinelProcess.launch(monitoring: master.port)
        try await withRiver(.live, try self.redis(through: sentinel), threads: 2) { river in
            try await river.publish("c0", "before")

            try await sentinel.halt()
            try await master.halt()
            try await self.waitUntilRefusing("c0", in: river)
            try await master.restart()
            try await self.waitUntilServing(["c0", "c1"], in: river)
            let broken = await self.sweep(down: nil, up: ["c0", "c1"]).check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
        }
    }

    /// The mapping itself: an engine's failure is 503 with its reason;
    /// anything else from an engine would be a defect, 500.
    @Test func engineFailuresAre503AndNothingElseIs() {
        let shardDown = RequestError.engineFailure(
            EngineError.unavailable("Redis shard 2 of 2 (redis://10.0.0.2:6379): not connected to Redis"),
            doing: "cannot list channels"
        )
        #expect(shardDown.status == .serviceUnavailable)
        #expect(
            shardDown.reason
                == "cannot list channels: engine unavailable: Redis shard 2 of 2 (redis://10.0.0.2:6379): "
                + "not connected to Redis"
        )
        #expect(RequestError.engineFailure(EngineError.shuttingDown).status == .serviceUnavailable)
        #expect(RequestError.engineFailure(TestFailure("a bug")).status == .internalServerError)
    }
}
