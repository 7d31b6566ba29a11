import Foundation
import RiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every output is bounded by what the peer reads: catch-ups, pipelined
/// answers, static files and pongs stop at the connection's high-water mark
/// while the peer does not read, and go on when it does. A reader that keeps
/// up gets everything, however large.
@Suite struct OutputBoundTests {
    static let payload = String(repeating: "m", count: 60_000)
    /// How long a client waits for the `river` process under attack: a
    /// ping flood costs a debug build seconds of work (a write per pong), and
    /// a loaded machine several times that. A bound, not a wait.
    static let patience = Duration.seconds(120)

    /// Publishes 100 messages of 60 KB to `channel`, on one kept-alive connection to `port`.
    static func fill(_ channel: String, port: Int) async throws {
        let publisher = try await TestConnection.live(port: port, readTimeout: Self.patience)
        for _ in 0..<100 {
            try await publisher.sendRequest("POST", "/publish?name=\(channel)", body: Self.payload)
            let status = try await publisher.readResponse().status
            guard status == 200 else { throw TestFailure("publish answered \(status)") }
        }
        await publisher.close()
    }

    /// Live: the catch-up meets real sockets' backpressure; in-process: the same bytes, on exact bytes.
    @Test(arguments: TestRiver.Mode.allCases)
    func aCatchUpLargerThanTheBacklogReachesAReaderThatKeepsUp(_ mode: TestRiver.Mode) async throws {
        let configuration = configured {
            $0.maxSubscriberBacklog = 256 * 1024
            $0.history.size = 100
        }
        try await withRiver(mode, configuration) { river in
            for _ in 0..<100 { try await river.publish("big", Self.payload) }
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=big&seq=0")
            _ = try await stream.readHead()
            for seq in 1...100 {
                #expect(try await stream.readChunk() == riverMessage("big", seq, "\"\(Self.payload)\""))
            }
            #expect(try await river.request("GET", "/publish?name=big&data=live").status == 200)
            #expect(try await stream.readChunk() == riverMessage("big", 101, "\"live\""))

            let poll = try await river.connect()
            try await poll.sendRequest("GET", "/subscribe?name=big&seq=1&keep=0")
            let answer = try await poll.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body.components(separatedBy: "[\"msg\"").count - 1 == 100, "seq 2 to 101, all of them")
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains("\"slow_consumers_cut\": 0,"), "\(stats)")
        }
    }

    /// A hostile peer's unread output against the server's memory: RSS grows
    /// by less than `limitKiB` while `attack` runs, and others are served meanwhile.
    func expectBounded(limitKiB: Int = 6 * 1024, _ attack: (Int) async throws -> [TestConnection]) async throws {
        try await RiverProcess.with(["--threads", "1", "--max-message-size", "64k"]) { river in
            try await Self.fill("big", port: river.port)
            _ = try await TestConnection.request(port: river.port, "GET", "/lib.js", readTimeout: Self.patience)
            let baseline = try river.residentKiB()
            let held = try await attack(river.port)
            // The one loop answers another client: it has read and handled the attack's bytes before.
            let other = try await TestConnection.request(
                port: river.port,
                "GET",
                "/publish?name=other&data=fine",
                readTimeout: Self.patience
            )
            #expect(other.status == 200, "other clients are served meanwhile")
            var peak = try river.residentKiB()
            for _ in 0..<6 {
                try await Task.sleep(for: .milliseconds(50))  // (pacing: RSS sampled over 300 ms, the peak kept)
                peak = max(peak, try river.residentKiB())
            }
            #expect(peak - baseline < limitKiB, "RSS grew \(peak - baseline) KiB (baseline \(baseline) KiB)")
            for connection in held { await connection.close() }
        }
    }

    @Test func pipelinedCatchUpLongPollsNeverRead() async throws {
        try await self.expectBounded { port in
            let greedy = try await TestConnection.live(port: port, receiveBufferBytes: 4096)
            await greedy.stopReading()
            try await greedy.send(
                String(repeating: "GET /subscribe?name=big&seq=0&keep=0 HTTP/1.1\r\nHost: x\r\n\r\n", count: 20)
            )
            return [greedy]
        }
    }

    @Test func pipelinedStaticFilesNeverRead() async throws {
        try await self.expectBounded { port in
            let greedy = try await TestConnection.live(port: port, receiveBufferBytes: 4096)
            await greedy.stopReading()
            let requests = String(repeating: "GET /lib.js HTTP/1.1\r\nHost: x\r\n\r\n", count: 4000)
            // The server stops reading once its answers are over the mark: sending may not finish.
            try? await greedy.send(Array(requests.utf8), within: .seconds(1))
            return [greedy]
        }
    }

    @Test func webSocketPingsNeverRead() async throws {
        try await self.expectBounded { port in
            let socket = try await TestWebSocket(
                on: try await .live(port: port, receiveBufferBytes: 4096),
                path: "/websocket?name=quiet"
            )
            await socket.connection.stopReading()
            let ping: [UInt8] = [0x89, 0x80 | 4, 1, 2, 3, 4] + [0x70, 0x6b, 0x6d, 0x63]  // masked "ping" → 4-byte pongs
            var burst: [UInt8] = []
            for _ in 0..<10_000 { burst += ping }
            // 3,000,000 pings (30 MB) are more than the kernel's buffers hold: unless the server
            // stops reading pings whose pongs nobody reads, they all go through.
            var sent = 0
            while sent < 3_000_000 {
                guard (try? await socket.connection.send(burst, within: .seconds(1))) != nil else { break }
                sent += 10_000
            }
            #expect(sent < 3_000_000, "the server stopped reading pings whose pongs nobody reads")
            return [socket.connection]
        }
    }
}
