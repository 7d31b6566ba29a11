import Foundation
import RiverTesting
import Testing

/// River nodes on two Redis shards: each channel lives on one shard, the
/// same whichever node asks; listing and statistics merge the shards; a
/// shard that is down takes only its own channels with it.
@Suite struct ShardingTests: RiverNodeTesting {
    func node(_ shards: [RedisServerProcess]) throws -> RiverProcess {
        try RiverProcess(
            ["--engine", "redis", "--threads", "2", "--history-size", "1000"]
                + shards.flatMap { ["--redis", $0.url] }
        )
    }

    /// The index of the shard holding `channel`'s keys (it must be exactly one).
    func shard(of channel: String, among shards: [RedisServerProcess]) throws -> Int? {
        let holders = try shards.indices.filter { try shards[$0].command("EXISTS", "river:{\(channel)}:meta") == ":1" }
        return holders.count == 1 ? holders[0] : nil
    }

    @Test func channelsSpreadOverShardsWithOneSeqEachAndMergedListings() async throws {
        try await MachineLoad.exclusively {
            let shards = [try RedisServerProcess(), try RedisServerProcess()]
            let (a, b, c) = (try self.node(shards), try self.node(shards), try self.node(shards))
            defer { self.stop(a, b, c) }
            let names = (0..<12).map { "room\($0)" }
            let subscribers = try names.map { try self.stream(b, "name=\($0)") }
            for round in 1...3 {
                for (index, name) in names.enumerated() {
                    let response = try self.publish([a, b, c][(index + round) % 3], name, "r\(round)")
                    #expect(response.status == 200)
                    #expect(self.seq(of: response) == round, "one seq per channel, whichever node publishes")
                }
            }
            let homes = try names.map { try self.shard(of: $0, among: shards) }
            #expect(!homes.contains(nil), "each channel's keys are on exactly one shard")
            #expect(Set(homes.compactMap { $0 }) == [0, 1], "both shards hold channels: \(homes)")
            for (name, subscriber) in zip(names, subscribers) {
                for round in 1...3 {
                    #expect(try subscriber.readChunk() == riverMessage(name, round, "\"r\(round)\""))
                }
            }
            // Resuming on another node reads the channel's history from its shard.
            for name in names {
                let resumed = try self.stream(c, "name=\(name)&seq=1")
                #expect(try resumed.readChunk() == riverMessage(name, 2, "\"r2\""))
                #expect(try resumed.readChunk() == riverMessage(name, 3, "\"r3\""))
                resumed.close()
            }
            let listing = try httpRequest(port: a.port, "GET", "/channels?prefix=room&limit=5")
            #expect(listing.body == #"{"channels": ["room0", "room1", "room10", "room11", "room2"], "next": "room2"}"#)
            let rest = try httpRequest(port: a.port, "GET", "/channels?prefix=room&after=room2&limit=20")
            #expect(
                rest.body.hasPrefix(#"{"channels": ["room3", "room4", "room5", "room6", "room7", "room8", "room9"]"#)
            )
            // Each node adds its publishes to its shards' counters once a second (the node asked, at once).
            var stats = try httpRequest(port: c.port, "GET", "/stats").body
            for _ in 0..<30 where !stats.contains("\"messages_published\": 36,") {
                try await Task.sleep(for: .milliseconds(100))
                stats = try httpRequest(port: c.port, "GET", "/stats").body
            }
            #expect(stats.contains("\"channels\": 12,"), "\(stats)")
            #expect(stats.contains("\"messages_published\": 36,"), "\(stats)")
        }
    }

    /// A shard that stops answers 503 for its channels only; the other
    /// shard's channels go on; when it is back (with its data), its open
    /// streams carry on where they were.
    @Test func aShardThatIsDownTakesOnlyItsOwnChannels() async throws {
        try await MachineLoad.exclusively {
            let shards = [try RedisServerProcess(persistent: true), try RedisServerProcess(persistent: true)]
            let (a, b) = (try self.node(shards), try self.node(shards))
            defer { self.stop(a, b) }
            var onShard: [Int: String] = [:]
            for index in 0..<40 where onShard.count < 2 {
                let name = "part\(index)"
                #expect(try self.publish(a, name, "first").status == 200)
                if let shard = try self.shard(of: name, among: shards), onShard[shard] == nil { onShard[shard] = name }
            }
            let (up, down) = (try #require(onShard[0]), try #require(onShard[1]))
            let onUp = try self.stream(b, "name=\(up)")
            let onDown = try self.stream(b, "name=\(down)")

            shards[1].stop()
            let refused = try await self.publish(a, down, "lost", until: 503, attempts: 100)
            #expect(refused.status == 503)
            #expect(refused.body.contains("Redis"), "\(refused.body)")
            #expect(try self.publish(a, up, "second").status == 200)
            #expect(try onUp.readChunk() == riverMessage(up, 2, "\"second\""))
            #expect(try httpRequest(port: b.port, "GET", "/subscribe?name=\(down)").status == 503)

            try shards[1].start()
            let published = try await self.publish(a, down, "second", until: 200, attempts: 250)
            #expect(self.seq(of: published) == 2, "the refused publish took no seq")
            onDown.setReadTimeout(10)
            #expect(try onDown.readChunk() == riverMessage(down, 2, "\"second\""))
        }
    }
}
