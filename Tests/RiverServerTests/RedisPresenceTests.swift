import Foundation
import RiverTesting
import Testing

/// Presence across `river` processes on one real Redis (PROTOCOL.md C3,
/// "Across nodes"): members and counts are the service's, events are
/// global, and a node that dies has its members leave within `presence_ttl`.
@Suite struct RedisPresenceTests: RiverNodeTesting {
    /// A node with self-chosen names on, a 1 s leave delay and the shortest `presence_ttl` (3 s).
    func node(_ redis: RedisServerProcess) async throws -> RiverProcess {
        let path = NSTemporaryDirectory() + "river-presence-\(UUID().uuidString).conf"
        try "presence_self_names on\npresence_leave_delay 1\npresence_ttl 3\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await RiverProcess.start(
            ["--config", path, "--port", "0", "--engine", "redis", "--redis", redis.url, "--threads", "2"]
        )
    }

    func presence(_ node: RiverProcess, _ channel: String) async throws -> String {
        try await TestConnection.request(port: node.port, "GET", "/presence?name=\(channel)").body
    }

    /// What the node's `/stats` counts: its own members (`presence_members`).
    func members(_ node: RiverProcess) async throws -> Int? {
        let body = try await TestConnection.request(port: node.port, "GET", "/stats").body
        let figures = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return figures?["presence_members"] as? Int
    }

    func event(_ kind: String, _ channel: String, _ user: String) -> String {
        "[\"\(kind)\", {\"channel\": \"\(channel)\", \"user\": \"\(user)\", \"unverified\": true}]"
    }

    @Test func aMemberOnOneNodeIsSeenOnAnotherAndJoinsAndLeavesOnce() async throws {
        let redis = try await RedisServerProcess.launch()
        let a = try await self.node(redis)
        let b = try await self.node(redis)
        defer { for node in [a, b] { node.signal(SIGTERM) } }
        let watcher = try await self.stream(b, "name=room&presence=1")
        let carolOnA = try await self.stream(a, "name=room&user=carol")
        await #expect(try watcher.readChunk() == self.event("join", "room", "carol"))
        try await eventually("node b lists carol, on node a") {
            try await self.presence(b, "room")
                == "{\"channel\": \"room\", \"connections\": 2, \"users\": 1, \"members\": ["
                + "{\"user\": \"carol\", \"unverified\": true, \"connections\": 1}]}"
        }

        // Each node's /stats counts the members it holds: carol is node a's.
        await #expect(try self.members(a) == 1)
        await #expect(try self.members(b) == 0)
        let carolOnB = try await self.stream(b, "name=room&user=carol")
        try await eventually("carol's second connection, on the other node, counts") {
            try await self.presence(a, "room").contains("\"connections\": 3, \"users\": 1")
        }
        await #expect(try self.members(b) == 1)
        await carolOnA.close()
        try await eventually("carol's connection on node a drops") {
            try await self.presence(b, "room").contains("\"connections\": 2, \"users\": 1")
        }
        // A probe whose leave comes due after carol's on node a would have: the watcher
        // sees the probe come and go, and nothing of carol in between.
        let probe = try await self.stream(a, "name=room&user=probe")
        await #expect(try watcher.readChunk() == self.event("join", "room", "probe"))
        await probe.close()
        await #expect(try watcher.readChunk() == self.event("leave", "room", "probe"))

        await carolOnB.close()
        await #expect(try watcher.readChunk() == self.event("leave", "room", "carol"))
        await #expect(try self.members(a) == 0)
        await #expect(try self.members(b) == 0)
        #expect(
            try await self.presence(a, "room")
                == "{\"channel\": \"room\", \"connections\": 1, \"users\": 0, \"members\": []}"
        )
    }

    @Test func theMembersOfANodeThatDiesLeaveWithinPresenceTTL() async throws {
        let redis = try await RedisServerProcess.launch()
        let a = try await self.node(redis)
        let b = try await self.node(redis)
        defer { for node in [b] { node.signal(SIGTERM) } }
        let watcher = try await self.stream(b, "name=hall&presence=1")
        let erin = try await self.stream(a, "name=hall&user=erin")
        await #expect(try watcher.readChunk() == self.event("join", "hall", "erin"))
        try await eventually("erin's share is written") { try await self.presence(b, "hall").contains("\"users\": 1") }

        a.signal(SIGKILL)
        let killed = ContinuousClock.now
        _ = try await a.exited(within: .seconds(10))
        await erin.close()
        #expect(
            try await self.presence(b, "hall").contains("\"users\": 1"),
            "listed while the dead node's heartbeat lasts"
        )
        await #expect(try watcher.readChunk() == self.event("leave", "hall", "erin"))
        let after = ContinuousClock.now - killed
        // presence_ttl (3 s) after the last heartbeat, reaped at the next beat of node b (every second), with room for a loaded machine.
        #expect(after < .seconds(7), "\(after)")
        #expect(
            try await self.presence(b, "hall")
                == "{\"channel\": \"hall\", \"connections\": 1, \"users\": 0, \"members\": []}"
        )
        #expect(try await redis.ask("ZCARD", "river:presence:nodes") == ":2", "node b's two loops are left")
    }

    @Test func aNodeThatStopsTakesItsMembersAlongAtOnce() async throws {
        let redis = try await RedisServerProcess.launch()
        let a = try await self.node(redis)
        let b = try await self.node(redis)
        defer { for node in [b] { node.signal(SIGTERM) } }
        let watcher = try await self.stream(b, "name=lounge&presence=1")
        let frank = try await self.stream(a, "name=lounge&user=frank")
        await #expect(try watcher.readChunk() == self.event("join", "lounge", "frank"))
        let stopping = ContinuousClock.now
        await self.stop([a])
        await frank.close()
        await #expect(try watcher.readChunk() == self.event("leave", "lounge", "frank"))
        #expect(ContinuousClock.now - stopping < .seconds(3), "well before presence_ttl")
        let nodes = try await redis.ask("ZCARD", "river:presence:nodes")
        #expect(nodes == ":2", "node b's two loops are left: \(nodes)")
    }
}
