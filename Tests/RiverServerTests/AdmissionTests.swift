import Foundation
import RiverTesting
import Testing

/// Time and admission from the first moment: a connection's clock starts at
/// accept, one over `max_connections` is answered at accept, and TCP
/// keepalive watches every connection for a peer that vanished.
@Suite struct AdmissionTests {
    @Test func silentSocketsCannotLockOthersOut() async throws {
        try await withServer(configured { $0.maxConnections = 10; $0.readTimeout = .seconds(2) }) { server in
            let start = ContinuousClock.now
            let silent = try (0..<10).map { _ in try server.connect() }
            // Over the limit: answered before it sends a byte.
            let over = try server.connect()
            let refused = try over.readResponse()
            #expect(refused.status == 503)
            #expect(refused.body == "server is at its connection limit (10)\n")
            #expect(refused.head.header("Retry-After") == "1")
            #expect(try over.waitForClose())
            // The silent ones are closed at the read timeout, counted from accept.
            for connection in silent {
                #expect(try connection.waitForClose())
            }
            let closedAfter = ContinuousClock.now - start
            #expect(closedAfter < .seconds(5), "closed after \(closedAfter), not keepalive_timeout")
            var status = 0
            for _ in 0..<100 where status != 200 {
                status = (try? httpRequest(port: server.port, "GET", "/health").status) ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == 200, "a new client is served once the silent ones are gone")
        }
    }

    @Test func everyConnectionIsWatchedByTCPKeepAliveAtRiversInterval() async throws {
        try await withServer(configured { $0.tcpKeepAlive = .seconds(7) }) { server in
            let connection = try server.connect()
            try connection.sendRequest("GET", "/subscribe?name=watched")
            _ = try connection.readHead()
            // The server's side of the connection, as the kernel reports its timers.
            let sockets = try Self.run(
                "/usr/bin/ss",
                ["-tno", "state", "established", "( sport = :\(server.port) )"]
            )
            let timer = try #require(sockets.firstMatch(of: /timer:\(keepalive,([0-9.]+)(sec|min|ms)?/), "\(sockets)")
            let unit = timer.output.2.map(String.init) ?? "sec"
            let seconds = Double(timer.output.1)! * (unit == "min" ? 60 : unit == "ms" ? 0.001 : 1)
            #expect(seconds <= 7, "the first probe is due within tcp_keepalive (7 s), not the kernel's 2 hours")
            connection.close()
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        while process.isRunning { usleep(10_000) }
        return String(decoding: data, as: UTF8.self)
    }
}
