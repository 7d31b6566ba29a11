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

    /// Publishes 100 messages of 60 KB to `channel`.
    static func fill(_ channel: String, port: Int) throws {
        let publisher = try SocketConnection(port: port)
        for _ in 0..<100 {
            try publisher.sendRequest("POST", "/publish?name=\(channel)", body: Self.payload)
            guard try publisher.readResponse().status == 200 else {
                throw SocketConnection.Failure(description: "publish refused")
            }
        }
    }

    @Test func aCatchUpLargerThanTheBacklogReachesAReaderThatKeepsUp() async throws {
        let configuration = configured {
            $0.maxSubscriberBacklog = 256 * 1024
            $0.history.size = 100
        }
        try await withServer(configuration) { server in
            try Self.fill("big", port: server.port)
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=big&seq=0")
            _ = try stream.readHead()
            for seq in 1...100 {
                #expect(try stream.readChunk() == riverMessage("big", seq, "\"\(Self.payload)\""))
            }
            #expect(try httpRequest(port: server.port, "GET", "/publish?name=big&data=live").status == 200)
            #expect(try stream.readChunk() == riverMessage("big", 101, "\"live\""))

            let poll = try server.connect()
            try poll.sendRequest("GET", "/subscribe?name=big&seq=1&keep=0")
            let answer = try poll.readResponse()
            #expect(answer.status == 200)
            #expect(answer.body.components(separatedBy: "[\"msg\"").count - 1 == 100, "seq 2 to 101, all of them")
            let stats = try httpRequest(port: server.port, "GET", "/stats").body
            #expect(stats.contains("\"slow_consumers_cut\": 0,"), "\(stats)")
        }
    }

    /// A hostile peer's unread output against the server's memory: RSS grows
    /// by less than `limitKiB` while `attack` runs, and others are served meanwhile.
    func expectBounded(limitKiB: Int = 6 * 1024, _ attack: (Int) throws -> [SocketConnection]) async throws {
        let river = try RiverProcess(["--threads", "1", "--max-message-size", "64k"])
        defer {
            river.signal(SIGTERM)
            _ = river.waitForExit()
        }
        try Self.fill("big", port: river.port)
        _ = try httpRequest(port: river.port, "GET", "/lib.js")
        let baseline = try river.residentKiB()
        let held = try attack(river.port)
        try await Task.sleep(for: .milliseconds(500))
        let during = try river.residentKiB()
        #expect(during - baseline < limitKiB, "RSS grew \(during - baseline) KiB (baseline \(baseline) KiB)")
        let other = try httpRequest(port: river.port, "GET", "/publish?name=other&data=fine")
        #expect(other.status == 200, "other clients are served meanwhile")
        for connection in held { connection.close() }
    }

    @Test func pipelinedCatchUpLongPollsNeverRead() async throws {
        try await self.expectBounded { port in
            let greedy = try SocketConnection(port: port, receiveBufferBytes: 4096)
            try greedy.send(
                String(repeating: "GET /subscribe?name=big&seq=0&keep=0 HTTP/1.1\r\nHost: x\r\n\r\n", count: 20)
            )
            return [greedy]
        }
    }

    @Test func pipelinedStaticFilesNeverRead() async throws {
        try await self.expectBounded { port in
            let greedy = try SocketConnection(port: port, receiveBufferBytes: 4096)
            greedy.setSendTimeout(1)
            let requests = String(repeating: "GET /lib.js HTTP/1.1\r\nHost: x\r\n\r\n", count: 4000)
            // The server stops reading once its answers are over the mark: sending may not finish.
            try? greedy.send(requests)
            return [greedy]
        }
    }

    @Test func webSocketPingsNeverRead() async throws {
        try await self.expectBounded { port in
            let socket = try SocketWebSocket(port: port, path: "/websocket?name=quiet")
            socket.connection.setSendTimeout(1)
            let ping: [UInt8] = [0x89, 0x80 | 4, 1, 2, 3, 4] + [0x70, 0x6b, 0x6d, 0x63]  // masked "ping" → 4-byte pongs
            var burst: [UInt8] = []
            for _ in 0..<10_000 { burst += ping }
            // 3,000,000 pings (30 MB) are more than the kernel's buffers hold: unless the server
            // stops reading pings whose pongs nobody reads, they all go through.
            var sent = 0
            while sent < 3_000_000 {
                guard (try? socket.connection.send(burst)) != nil else { break }
                sent += 10_000
            }
            #expect(sent < 3_000_000, "the server stopped reading pings whose pongs nobody reads")
            return [socket.connection]
        }
    }
}
