import Foundation
import NIOCore
import NIOHPACK
import RiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every output is bounded by what the peer reads: catch-ups, pipelined
/// answers, static files, pongs and HTTP/2 publish answers stop at the connection's high-water mark
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
    func expectBounded(
        limitKiB: Int = 6 * 1024,
        arguments: [String] = [],
        _ attack: (Int) async throws -> [TestConnection]
    ) async throws {
        try await RiverProcess.with(["--threads", "1", "--max-message-size", "64k"] + arguments) { river in
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

    /// HTTP/2 publishes are answered on the connection, with no stream channel to hold
    /// them back. A stream counts against `max_concurrent_streams` until its answer is
    /// sent, so a peer that never reads either stops being read (its socket full) or,
    /// opening more streams than allowed meanwhile, is cut (`MaxStreamsViolation`).
    @Test func http2PublishesNeverRead() async throws {
        try await self.expectBounded(arguments: ["--http2-cleartext", "on"]) { port in
            let connection = try await TestConnection.live(port: port, receiveBufferBytes: 4096)
            let http2 = try await TestHTTP2Connection(connection)
            try await http2.awaitSettings()
            await connection.stopReading()
            // One header block, the same for every publish: a fresh encoder's bytes refer to no earlier block.
            var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
            var block = ByteBuffer()
            try encoder.encode(
                headers: [
                    ":method": "GET", ":scheme": "http", ":path": "/publish?name=pressure&data=x", ":authority": "r",
                ],
                to: &block
            )
            let headerBlock = Array(block.readableBytesView)
            // 1,000,000 publishes (about 45 MB) are more than the kernel's buffers hold: unless the
            // server stops reading publishes whose answers nobody reads, or cuts the peer, they all go through.
            var stream: UInt32 = 1
            var outcome = "read"
            while stream < 2_000_000 {
                var burst: [UInt8] = []
                burst.reserveCapacity(10_000 * (9 + headerBlock.count))
                for _ in 0..<10_000 {
                    let length = UInt32(headerBlock.count)
                    burst += [
                        UInt8(length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
                    ]
                    burst += [0x1, 0x5] + withUnsafeBytes(of: stream.bigEndian, Array.init) + headerBlock
                    stream += 2
                }
                do {
                    try await connection.send(burst, within: .seconds(1))
                } catch is TimedOut {
                    outcome = "paused"
                    break
                } catch {
                    outcome = "cut"
                    break
                }
            }
            #expect(
                outcome != "read",
                "the server stopped reading publishes whose answers nobody reads, or cut the peer"
            )
            if outcome == "cut" {
                let stats = try await TestConnection.request(port: port, "GET", "/stats")
                #expect(stats.body.contains("MaxStreamsViolation"), "\(stats.body)")
            }
            return [connection]
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
