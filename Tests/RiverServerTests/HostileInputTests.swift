import Foundation
import RiverTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that misbehave on purpose: River answers or cuts them and every
/// other connection carries on.
@Suite struct HostileInputTests {
    /// How long a client waits for a `river` process under a storm (10,000
    /// sockets, a flood) on a loaded machine: longer than the kit's 10 s. A bound, not a wait.
    static let patience = Duration.seconds(120)

    /// In-process the server's clock moves 100 ms per trickled byte; live, real time does, and
    /// the read timeout is 5 s: a client starved (over a second, seen) between connect and its
    /// first byte on a loaded machine must not look silent.
    @Test(arguments: TestRiver.Mode.allCases)
    func slowLorisIsAnswered408AfterTheReadTimeout(_ mode: TestRiver.Mode) async throws {
        let seconds = mode == .live ? 5 : 1
        let readTimeout = Duration.seconds(seconds)
        try await withRiver(mode, configured { $0.readTimeout = .seconds(Int64(seconds)) }) { river in
            let idle = try await river.connect()
            try await idle.sendRequest("GET", "/publish?name=calm&data=1")
            #expect(try await idle.readResponse().status == 200)

            let start = ContinuousClock.now  // (before the connection: its clock starts at accept)
            let loris = try await river.connect()
            try await loris.send("GET /publish?name=calm&da")
            var elapsed = Duration.zero
            // A byte every 100 ms keeps the socket busy but never finishes the request.
            while await !loris.isClosedByServer() && elapsed < readTimeout + .seconds(4) {
                try? await loris.send("t")
                if mode == .inProcess {
                    await river.advance(by: .milliseconds(100))
                    elapsed += .milliseconds(100)
                } else {
                    try await Task.sleep(for: .milliseconds(100))  // (pacing: the trickle's rate)
                    elapsed = ContinuousClock.now - start
                }
            }
            let response = try await loris.readResponse()
            #expect(response.status == 408)
            #expect(response.body == "request not received in time\n")
            // (The server counts whole seconds from the tick it accepted in: up to 1 s early, see below.)
            #expect(elapsed >= readTimeout - .seconds(1) && elapsed < readTimeout + .seconds(3), "cut after \(elapsed)")
            #expect(try await loris.waitForClose())

            // A keep-alive connection idle between requests is not a slow request.
            try await idle.sendRequest("GET", "/publish?name=calm&data=2")
            #expect(try await idle.readResponse().body == "{\"channel\": \"calm\", \"seq\": 2}")
        }
    }

    /// `read_timeout` is counted in whole ticks (seconds), and a tick has to pass the
    /// limit, not reach it: a connection is never cut before its timeout, at most a second
    /// after. Here: accepted 0.9 s into the first tick, with a 2 s read timeout.
    @Test func aReadTimeoutIsCountedFromAccept() async throws {
        try await withRiver(.inProcess, configured { $0.readTimeout = .seconds(2) }) { river in
            await river.advance(by: .milliseconds(900))
            let slow = try await river.connect()
            try await slow.send("GET /publish?name=calm&da")
            await river.advance(by: .milliseconds(1_200))
            let early = try await slow.unreadBytesNow()
            #expect(early == [], "nothing 1.2 s after accept, with a 2 s read timeout")
            await river.advance(by: .seconds(1))
            let answer = String(decoding: early + (try await slow.unreadBytesNow()), as: UTF8.self)
            #expect(answer.hasPrefix("HTTP/1.1 408 "), "408 by 2.2 s after accept: \(answer)")
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func pipelinedJunkAfterGoodRequestsIsAnsweredInOrderThen400(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let connection = try await river.connect()
            try await connection.send(
                "GET /publish?name=p&data=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /publish?name=p&data=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "\u{0}\u{7f}junk junk\r\n\r\nGET /publish?name=p&data=never HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(try await connection.readResponse().body == "{\"channel\": \"p\", \"seq\": 1}")
            #expect(try await connection.readResponse().body == "{\"channel\": \"p\", \"seq\": 2}")
            let refused = try await connection.readResponse()
            #expect(refused.status == 400)
            #expect(try await connection.waitForClose())
            let after = try await river.request("GET", "/publish?name=p&data=3")
            #expect(after.body == "{\"channel\": \"p\", \"seq\": 3}", "the junk published nothing")
        }
    }

    /// Protocol bytes only: in-process.
    @Test(arguments: [
        ("/publish?name=%&data=x", "invalid 'name' parameter: malformed percent-encoding"),
        ("/publish?name=a%2&data=x", "invalid 'name' parameter: malformed percent-encoding"),
        ("/publish?name=%FF%FE&data=x", "invalid 'name' parameter: channel name is not valid UTF-8"),
        ("/publish?name=%ED%A0%80&data=x", "invalid 'name' parameter: channel name is not valid UTF-8"),
        ("/subscribe?name=%G1", "invalid 'name' parameter: malformed percent-encoding"),
        ("/sse?name=a&lastEventId=%", "invalid 'lastEventId' parameter: malformed percent-encoding"),
    ])
    func malformedEncodingsAre400(target: String, reason: String) async throws {
        try await withRiver { river in
            let response = try await river.request("GET", target)
            #expect(response.status == 400)
            #expect(response.body == reason + "\n")
        }
    }

    /// A subscriber that never reads is cut once its unsent output passes
    /// `max_subscriber_backlog`; a fast one on the same channel gets every
    /// message, and the server's memory does not grow with what the slow one
    /// did not read.
    @Test func slowConsumerIsCutWhileAFastOneGetsEverything() async throws {
        let arguments = [
            "--threads", "1", "--max-subscriber-backlog", "256k", "--history-size", "10", "--max-message-size", "16k",
        ]
        try await RiverProcess.with(arguments) { river in
            let messageCount = 4000
            let payload = String(repeating: "s", count: 16_000)

            let slow = try await TestConnection.live(
                port: river.port,
                readTimeout: Self.patience,
                receiveBufferBytes: 4096
            )
            try await slow.sendRequest("GET", "/subscribe?name=flood&hello=1")
            _ = try await slow.readHead()
            #expect(try await slow.readChunk()?.hasPrefix("[\"live\"") == true)
            await slow.stopReading()
            let fast = try await TestConnection.live(port: river.port, readTimeout: Self.patience)
            try await fast.sendRequest("GET", "/subscribe?name=flood&hello=1")
            _ = try await fast.readHead()
            #expect(try await fast.readChunk()?.hasPrefix("[\"live\"") == true)

            let baseline = try river.residentKiB()
            let (received, peak) = try await withThrowingTaskGroup(of: (Int?, Int?).self) { group in
                group.addTask {
                    for seq in 1...messageCount {
                        guard try await fast.readChunk() == riverMessage("flood", seq, "\"\(payload)\"") else {
                            throw TestFailure("message \(seq) is not intact")
                        }
                    }
                    return (messageCount, nil)
                }
                group.addTask {
                    var peak = baseline
                    let publisher = try await TestConnection.live(port: river.port, readTimeout: Self.patience)
                    let request =
                        "POST /publish?name=flood HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: \(payload.utf8.count)\r\n\r\n\(payload)"
                    let fifty = Array(String(repeating: request, count: 50).utf8)
                    for batch in 0..<(messageCount / 50) {
                        try await publisher.send(fifty)
                        for _ in 0..<50 {
                            let status = try await publisher.readResponse().status
                            guard status == 200 else { throw TestFailure("a publish answered \(status)") }
                        }
                        if batch % 10 == 0 { peak = max(peak, try river.residentKiB()) }
                    }
                    await publisher.close()
                    return (nil, peak)
                }
                var received = 0
                var peak = baseline
                for try await (count, resident) in group {
                    if let count { received = count }
                    if let resident { peak = resident }
                }
                return (received, peak)
            }
            #expect(received == messageCount, "the fast subscriber got every message, intact")

            let stats = try await TestConnection.request(port: river.port, "GET", "/stats", readTimeout: Self.patience)
                .body
            #expect(stats.contains("\"slow_consumers_cut\": 1,"), "only the slow one: \(stats)")
            let published = messageCount * payload.utf8.count / 1024
            let grown = peak - baseline
            #expect(grown < published / 3, "memory grew \(grown) KiB while \(published) KiB went out")
            // The slow one finds its stream cut short: what it had not read, then no terminating chunk.
            await slow.resumeReading()
            var endedCleanly = false
            do {
                while try await slow.readChunk() != nil {}
                endedCleanly = true
            } catch {}
            #expect(!endedCleanly)
        }
    }
}
