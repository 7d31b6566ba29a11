import Foundation
import RiverTesting
import Testing

extension MachineLoadTests {
    // (In the serial phase: its clocks run on real sockets, and a loaded parallel suite
    // has closed the connection over the limit before its 503 was read.)
    /// Time and admission from the first moment: a connection's clock starts at
    /// accept, one over `max_connections` is answered at accept, and TCP
    /// keepalive watches every connection for a peer that vanished. Live: the
    /// kernel's sockets are what is tested.
    @Suite struct AdmissionTests {
        @Test func silentSocketsCannotLockOthersOut() async throws {
            try await withRiver(
                .live,
                configured {
                    $0.maxConnections = 10
                    $0.readTimeout = .seconds(5)  // (all eleven connect, loaded or not, before the first times out)
                }
            ) { river in
                let start = ContinuousClock.now
                var silent: [TestConnection] = []
                for _ in 0..<10 { silent.append(try await river.connect()) }
                // Over the limit: answered before it sends a byte.
                let over = try await river.connect()
                let refused = try await over.readResponse()
                #expect(refused.status == 503)
                #expect(refused.body == "server is at its connection limit (10)\n")
                #expect(refused.header("Retry-After") == "1")
                #expect(try await over.waitForClose())
                // The silent ones are closed at the read timeout, counted from accept.
                for connection in silent {
                    #expect(try await connection.waitForClose())
                }
                let closedAfter = ContinuousClock.now - start
                // (Far below keepalive_timeout, with room for a loaded machine: 9.3 s was seen beside busy loops.)
                #expect(closedAfter < .seconds(30), "closed after \(closedAfter), not keepalive_timeout (120 s)")
                // The server frees their slots when it has seen them close.
                var status = 0
                _ = try? await eventually("a new client is served") {
                    // (Until then it may be refused, and a refusal's answer can be lost to a reset.)
                    status = (try? await river.request("GET", "/health").status) ?? 0
                    return status == 200
                }
                #expect(status == 200, "a new client is served once the silent ones are gone")
            }
        }

        @Test func everyConnectionIsWatchedByTCPKeepAliveAtRiversInterval() async throws {
            try await withRiver(.live, configured { $0.tcpKeepAlive = .seconds(7) }) { river in
                let connection = try await river.connect()
                try await connection.sendRequest("GET", "/subscribe?name=watched")
                _ = try await connection.readHead()
                // The server's side of the connection, as the kernel reports its timers.
                let sockets = try await Self.run(
                    "/usr/bin/ss",
                    ["-tno", "state", "established", "( sport = :\(river.port) )"]
                )
                let timer = try #require(
                    sockets.firstMatch(of: /timer:\(keepalive,([0-9.]+)(sec|min|ms)?/),
                    "\(sockets)"
                )
                let unit = timer.output.2.map(String.init) ?? "sec"
                let seconds = Double(timer.output.1)! * (unit == "min" ? 60 : unit == "ms" ? 0.001 : 1)
                #expect(seconds <= 7, "the first probe is due within tcp_keepalive (7 s), not the kernel's 2 hours")
                await connection.close()
            }
        }

        /// Runs `executable` to its end; what it wrote to its standard output.
        static func run(_ executable: String, _ arguments: [String]) async throws -> String {
            let process = try ChildProcess(executable, arguments, standardOutput: .pipe)
            let output = PipeReader(process.output!)
            guard try await process.exited() != nil else {
                try await process.stop()
                throw TestFailure("\(executable) did not end within 10 s")
            }
            try await output.end()
            return output.text
        }
    }
}
