import RiverTesting
import Testing

@testable import RiverServer

/// `max_memory` bounds memory: channel records are charged to it, and
/// `max_channels` caps how many channels River holds (503 beyond, when every
/// channel held has subscribers). The 503 in-process; memory against the real
/// process under 200,000 channels in `MachineLoadTests.MaxMemoryFloodTests`.
@Suite struct MemoryBoundTests {
    /// In-process a stream that closes leaves its channel at once: the next
    /// publish finds room without retrying.
    @Test func noRoomForAChannelIs503WithAReason() async throws {
        try await withRiver(.inProcess, configured { $0.history.maxChannels = 2 }) { river in
            var streams: [TestConnection] = []
            for name in ["a", "b"] {
                let stream = try await river.connect()
                try await stream.sendRequest("GET", "/subscribe?name=\(name)")
                #expect(try await stream.readHead().status == 200)
                streams.append(stream)
            }
            let reason =
                "no room for another channel within max_channels (2) and max_memory: "
                + "the channels held all have subscribers\n"
            let publish = try await river.request("GET", "/publish?name=c&data=x")
            #expect(publish.status == 503)
            #expect(publish.body == reason)
            let subscribe = try await river.request("GET", "/subscribe?name=d")
            #expect(subscribe.status == 503)
            #expect(subscribe.body == "cannot subscribe to d: " + reason, "the refused channel is named (several may be asked for)")
            // Existing channels still work.
            #expect(try await river.request("GET", "/publish?name=a&data=still").status == 200)
            #expect(try await streams[0].readChunk() == riverMessage("a", 1, "\"still\""))
            // A channel left without subscribers makes room.
            await streams[1].close()
            let status = try await river.request("GET", "/publish?name=c&data=x").status
            #expect(status == 200)
        }
    }
}
