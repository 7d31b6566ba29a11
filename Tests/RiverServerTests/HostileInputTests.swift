import Foundation
import RiverTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Clients that misbehave on purpose: River answers or cuts them and every
/// other connection carries on.
@Suite struct HostileInputTests {
    @Test func slowLorisIsAnswered408AfterTheReadTimeout() async throws {
        try await withServer(configured { $0.readTimeout = .seconds(1) }) { server in
            let idle = try server.connect()
            try idle.sendRequest("GET", "/publish?name=calm&data=1")
            #expect(try idle.readResponse().status == 200)

            let loris = try server.connect()
            loris.setReadTimeout(0.1)
            try loris.send("GET /publish?name=calm&da")
            let start = ContinuousClock.now
            var response: SocketConnection.Response?
            // A byte every 100 ms keeps the socket busy but never finishes the request.
            while response == nil && ContinuousClock.now - start < .seconds(5) {
                try? loris.send("t")
                response = try? loris.readResponse()
            }
            let elapsed = ContinuousClock.now - start
            #expect(response?.status == 408)
            #expect(response?.body == "request not received in time\n")
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(4), "cut after \(elapsed)")
            loris.setReadTimeout(5)
            #expect(try loris.waitForClose())

            // A keep-alive connection idle between requests is not a slow request.
            try idle.sendRequest("GET", "/publish?name=calm&data=2")
            #expect(try idle.readResponse().body == "{\"channel\": \"calm\", \"seq\": 2}")
        }
    }

    @Test func pipelinedJunkAfterGoodRequestsIsAnsweredInOrderThen400() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.send(
                "GET /publish?name=p&data=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /publish?name=p&data=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "\u{0}\u{7f}junk junk\r\n\r\nGET /publish?name=p&data=never HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(try connection.readResponse().body == "{\"channel\": \"p\", \"seq\": 1}")
            #expect(try connection.readResponse().body == "{\"channel\": \"p\", \"seq\": 2}")
            let refused = try connection.readResponse()
            #expect(refused.status == 400)
            #expect(try connection.waitForClose())
            let after = try httpRequest(port: server.port, "GET", "/publish?name=p&data=3")
            #expect(after.body == "{\"channel\": \"p\", \"seq\": 3}", "the junk published nothing")
        }
    }

    @Test(arguments: [
        ("/publish?name=%&data=x", "invalid 'name' parameter: malformed percent-encoding"),
        ("/publish?name=a%2&data=x", "invalid 'name' parameter: malformed percent-encoding"),
        ("/publish?name=%FF%FE&data=x", "invalid 'name' parameter: channel name is not valid UTF-8"),
        ("/publish?name=%ED%A0%80&data=x", "invalid 'name' parameter: channel name is not valid UTF-8"),
        ("/subscribe?name=%G1", "invalid 'name' parameter: malformed percent-encoding"),
        ("/sse?name=a&lastEventId=%", "invalid 'lastEventId' parameter: malformed percent-encoding"),
    ])
    func malformedEncodingsAre400(target: String, reason: String) async throws {
        try await withServer { server in
            let response = try httpRequest(port: server.port, "GET", target)
            #expect(response.status == 400)
            #expect(response.body == reason + "\n")
        }
    }

    /// A subscriber that never reads is cut once its unsent output passes
    /// `max_subscriber_backlog`; a fast one on the same channel gets every
    /// message, and the server's memory does not grow with what the slow one
    /// did not read.
    @Test func slowConsumerIsCutWhileAFastOneGetsEverything() async throws {
        let river = try RiverProcess([
            "--threads", "1", "--max-subscriber-backlog", "256k", "--history-size", "10", "--max-message-size", "16k",
        ])
        defer {
            river.signal(SIGTERM)
            _ = river.waitForExit()
        }
        let messageCount = 4000
        let payload = String(repeating: "s", count: 16_000)

        let slow = try SocketConnection(port: river.port, receiveBufferBytes: 4096)
        try slow.sendRequest("GET", "/subscribe?name=flood")
        _ = try slow.readHead()
        let baseline = try river.residentKiB()
        let port = river.port
        let pid = river.process.processIdentifier
        let received = Mutex(0)
        let peak = Mutex(baseline)
        let subscribed = DispatchSemaphore(value: 0)
        try await concurrently(2) { role in
            if role == 0 {
                let fast = try SocketConnection(port: port)
                try fast.sendRequest("GET", "/subscribe?name=flood")
                _ = try fast.readHead()
                subscribed.signal()
                for seq in 1...messageCount {
                    let chunk = try fast.readChunk() ?? ""
                    guard chunk == riverMessage("flood", seq, "\"\(payload)\"") else {
                        throw SocketConnection.Failure(description: "message \(seq) is not intact")
                    }
                    received.withLock { $0 = seq }
                }
            } else {
                subscribed.wait()
                let publisher = try SocketConnection(port: port)
                let request =
                    "POST /publish?name=flood HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: \(payload.utf8.count)\r\n\r\n\(payload)"
                for batch in 0..<(messageCount / 50) {
                    try publisher.send(String(repeating: request, count: 50))
                    for _ in 0..<50 where try publisher.readResponse().status != 200 {
                        throw SocketConnection.Failure(description: "a publish failed")
                    }
                    if batch % 10 == 0 {
                        let resident = try residentKiB(pid: pid)
                        peak.withLock { $0 = max($0, resident) }
                    }
                }
            }
        }
        #expect(received.withLock { $0 } == messageCount, "the fast subscriber got every message, intact")

        let stats = try httpRequest(port: river.port, "GET", "/stats").body
        #expect(stats.contains("\"slow_consumers_cut\": 1,"), "only the slow one: \(stats)")
        let published = messageCount * payload.utf8.count / 1024
        let grown = peak.withLock { $0 } - baseline
        #expect(grown < published / 3, "memory grew \(grown) KiB while \(published) KiB went out")
        // The slow one finds its stream cut short: no terminating chunk.
        slow.setReadTimeout(5)
        var endedCleanly = false
        while let chunk = try? slow.readChunk() {
            if chunk.isEmpty { endedCleanly = true }
        }
        #expect(!endedCleanly)
    }

    /// 10,000 connections, a third of them subscribed, a third halfway
    /// through a request, opened at once and dropped at once (half of them
    /// reset): the server stays up, answers, and forgets them all — twice,
    /// and the second wave leaves the process no bigger than the first did.
    @Test func tenThousandConnectionsOpenedAndDroppedAtOnce() async throws {
        try await MachineLoad.exclusively { try await self.openAndDropTenThousandConnections() }
    }

    func openAndDropTenThousandConnections() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let count = min(10_000, Int(limit.rlim_cur) - 200)

        let river = try RiverProcess(["--threads", "2"])
        defer {
            river.signal(SIGTERM)
            _ = river.waitForExit()
        }
        try await self.openAndDrop(count, river: river, wave: 1)
        let afterFirst = try river.residentKiB()
        try await self.openAndDrop(count, river: river, wave: 2)
        let afterSecond = try river.residentKiB()
        #expect(afterSecond - afterFirst < 3 * 1024, "the second wave grew RSS by \(afterSecond - afterFirst) KiB")
    }

    private func openAndDrop(_ count: Int, river: RiverProcess, wave: Int) async throws {
        try self.openUseAndClose(count, river: river, wave: wave)

        var open = -1
        let deadline = ContinuousClock.now + .seconds(10)
        while open != 1 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            let stats = try httpRequest(port: river.port, "GET", "/stats").body
            let object = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any]
            open = (object?["connections"] as? [String: Any])?["open"] as? Int ?? -1
        }
        #expect(open == 1, "only the /stats request itself is left open")
        let after = try httpRequest(port: river.port, "GET", "/publish?name=crowd0&data=again")
        #expect(after.body == "{\"channel\": \"crowd0\", \"seq\": \(2 * wave)}")
    }

    /// Opens `count` connections (a third subscribed, a third halfway through
    /// a request), publishes while they are open, then drops them all (half
    /// with a reset).
    private func openUseAndClose(_ count: Int, river: RiverProcess, wave: Int) throws {
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        for index in 0..<count {
            let socket = try rawConnect(port: river.port)
            sockets.append(socket)
            let text: String
            switch index % 3 {
            case 0: text = "GET /subscribe?name=crowd\(index % 100) HTTP/1.1\r\nHost: x\r\n\r\n"
            case 1: text = "GET /publish?name=crowd&data=half"
            default: text = ""
            }
            if !text.isEmpty { _ = send(socket, text, text.utf8.count, Int32(MSG_NOSIGNAL)) }
        }
        let during = try httpRequest(port: river.port, "GET", "/publish?name=crowd0&data=wave\(wave)")
        #expect(during.body == "{\"channel\": \"crowd0\", \"seq\": \(2 * wave - 1)}")

        for (index, socket) in sockets.enumerated() {
            if index % 2 == 0 {
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // close with a reset
                setsockopt(socket, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            }
            close(socket)
        }
        sockets = []
    }
}

/// A connected, blocking TCP socket to 127.0.0.1:`port`.
func rawConnect(port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw SocketConnection.Failure(description: "socket() failed: \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard result == 0 else {
        close(descriptor)
        throw SocketConnection.Failure(description: "connect() failed: \(errno)")
    }
    return descriptor
}
