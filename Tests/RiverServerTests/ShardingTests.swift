import Foundation
import RiverTesting
import Testing

/// River nodes on two Redis shards: each channel lives on one shard, the
/// same whichever node asks; listing and statistics merge the shards; a
/// shard that is down takes only its own channels with it.
@Suite struct ShardingTests: RiverNodeTesting {
    func node(_ shards: [RedisServerProcess]) async throws -> RiverProcess {
        try await RiverProcess.start(
            ["--engine", "redis", "--threads", "1", "--history-size", "1000"] + shards.flatMap { ["--redis", $0.url] }
        )
    }

    /// The index of the shard holding `channel`'s keys (it must be exactly one).
    func shard(of channel: String, among shards: [RedisServerProcess]) async throws -> Int? {
        var holders: [Int] = []
        for index in shards.indices {
            if try await shards[index].ask("EXISTS", "river:{\(channel)}:meta") == ":1" { holders.append(index) }
        }
        return holders.count == 1 ? holders[0] : nil
    }

    @Test func channelsSpreadOverShardsWithOneSeqEachAndMergedListings() async throws {
        try await MachineLoad.exclusively {
            let shards = [try await RedisServerProcess.launch(), try await RedisServerProcess.launch()]
            let (a, b, c) = (try await self.node(shards), try await self.node(shards), try await self.node(shards))
            try await self.stopping(a, b, c) {
                let names = (0..<12).map { "room\($0)" }
                var subscribers: [TestConnection] = []
                for name in names { subscribers.append(try await self.stream(b, "name=\(name)")) }
                for round in 1...3 {
                    for (index, name) in names.enumerated() {
                        let response = try await self.publish([a, b, c][(index + round) % 3], name, "r\(round)")
                        #expect(response.status == 200)
                        #expect(self.seq(of: response) == round, "one seq per channel, whichever node publishes")
                    }
                }
                var homes: [Int?] = []
                for name in names { homes.append(try await self.shard(of: name, among: shards)) }
                #expect(!homes.contains(nil), "each channel's keys are on exactly one shard")
                #expect(Set(homes.compactMap { $0 }) == [0, 1], "both shards hold channels: \(homes)")
                for (name, subscriber) in zip(names, subscribers) {
                    for round in 1...3 {
                        #expect(try await subscriber.readChunk() == riverMessage(name, round, "\"r\(round)\""))
                    }
                }
                // Resuming on another node reads the channel's history from its shard.
                for name in names {
                    let resumed = try await self.stream(c, "name=\(name)&seq=1")
                    #expect(try await resumed.readChunk() == riverMessage(name, 2, "\"r2\""))
                    #expect(try await resumed.readChunk() == riverMessage(name, 3, "\"r3\""))
                    await resumed.close()
                }
                let listing = try await TestConnection.request(port: a.port, "GET", "/channels?prefix=room&limit=5")
                #expect(
                    listing.body == #"{"channels": ["room0", "room1", "room10", "room11", "room2"], "next": "room2"}"#
                )
                let rest = try await TestConnection.request(
                    port: a.port,
                    "GET",
                    "/channels?prefix=room&after=room2&limit=20"
                )
                #expect(
                    rest.body.hasPrefix(
                        #"{"channels": ["room3", "room4", "room5", "room6", "room7", "room8", "room9"]"#
                    )
                )
                // Each node adds its publishes to its shards' counters once a second (the node asked, at once).
                var stats = ""
                _ = try? await eventually("the shards count 36 publishes") {
                    stats = try await TestConnection.request(port: c.port, "GET", "/stats").body
                    return stats.contains("\"messages_published\": 36,")
                }
                #expect(stats.contains("\"channels\": 12,"), "\(stats)")
                #expect(stats.contains("\"messages_published\": 36,"), "\(stats)")
            }
        }
    }

    /// A shard that stops answers 503 for its channels only; the other
    /// shard's channels go on; when it is back (with its data), its open
    /// streams carry on where they were.
    @Test func aShardThatIsDownTakesOnlyItsOwnChannels() async throws {
        try await MachineLoad.exclusively {
            let shards = [
                try await RedisServerProcess.launch(persistent: true),
                try await RedisServerProcess.launch(persistent: true),
            ]
            let (a, b) = (try await self.node(shards), try await self.node(shards))
            try await self.stopping(a, b) {
                var onShard: [Int: String] = [:]
                for index in 0..<40 where onShard.count < 2 {
                    let name = "part\(index)"
                    #expect(try await self.publish(a, name, "first").status == 200)
                    if let shard = try await self.shard(of: name, among: shards), onShard[shard] == nil {
                        onShard[shard] = name
                    }
                }
                let (up, down) = (try #require(onShard[0]), try #require(onShard[1]))
                let onUp = try await self.stream(b, "name=\(up)")
                let onDown = try await self.stream(b, "name=\(down)")

                try await shards[1].halt()
                let refused = try await self.publish(a, down, "lost", until: 503)
                #expect(refused.status == 503)
                #expect(refused.body.contains("Redis"), "\(refused.body)")
                #expect(try await self.publish(a, up, "second").status == 200)
                #expect(try await onUp.readChunk() == riverMessage(up, 2, "\"second\""))
                #expect(try await TestConnection.request(port: b.port, "GET", "/subscribe?name=\(down)").status == 503)

                try await shards[1].restart()
                let published = try await self.publish(a, down, "second", until: 200)
                #expect(self.seq(of: published) == 2, "the refused publish took no seq")
                #expect(try await onDown.readChunk() == riverMessage(down, 2, "\"second\""))
            }
        }
    }
}
