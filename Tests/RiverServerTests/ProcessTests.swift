import Foundation
import RiverTesting
import Testing

/// The `river` executable itself: signals, exit codes, the start-up line and logging.
@Suite(.serialized) struct ProcessTests {
    /// (Two loops: the signal ends the streams on every loop.)
    @Test(arguments: [SIGTERM, SIGINT])
    func signalEndsEveryStreamCleanlyAndExitsZero(signal: Int32) async throws {
        // A long shutdown timeout: ending the streams must not wait for it, and a
        // loaded machine's slow client cannot be mistaken for it.
        let river = try await RiverProcess.start(["--threads", "2", "--shutdown-timeout", "60"])
        var streams: [TestConnection] = []
        for index in 0..<4 {
            let stream = try await TestConnection.live(port: river.port)
            try await stream.sendRequest("GET", "/subscribe?name=bye\(index)&hello=1")
            #expect(try await stream.readHead().status == 200)
            #expect(try await stream.readChunk()?.hasPrefix("[\"live\"") == true)
            streams.append(stream)
        }
        let idle = try await TestConnection.live(port: river.port)
        try await idle.sendRequest("GET", "/publish?name=bye0&data=last")
        #expect(try await idle.readResponse().status == 200)
        #expect(try await streams[0].readChunk() == riverMessage("bye0", 1, "\"last\""))

        let start = ContinuousClock.now
        river.signal(signal)
        for stream in streams {
            #expect(try await stream.readChunk() == nil)  // the terminating chunk
            #expect(try await stream.waitForClose())
        }
        #expect(try await idle.waitForClose())
        #expect(try await river.exited(within: .seconds(30)) == 0)
        #expect(ContinuousClock.now - start < .seconds(30), "the streams ended at once, not at shutdown_timeout")
        #expect(river.standardError.contains("River stopped"))
    }

    @Test func firstLineSaysAddressEngineAndLimits() async throws {
        let river = try await RiverProcess.start(["--threads", "1", "--max-connections", "123", "--history-size", "42"])
        let first = river.standardError.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains("River listening on 127.0.0.1:\(river.port)"))
        #expect(first.contains("engine memory"))
        #expect(first.contains("max_connections 123"))
        #expect(first.contains("history 42 messages"))
        #expect(first.contains("max_message_size 65536 bytes"))
        river.signal(SIGTERM)
        #expect(try await river.exited() == 0)
    }

    @Test func configFileIsReadAndFlagsOverrideIt() async throws {
        let path = try temporaryFile(
            """
            # river.conf
            ip 127.0.0.1
            port 0
            threads 1
            history_size 11
            max_message_size 2k

            client_timeout 0
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let river = try await RiverProcess.start(["--config", path, "--history-size", "13"])
        let first = river.standardError.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.contains("history 13 messages"))
        #expect(first.contains("max_message_size 2048 bytes"))
        #expect(first.contains("1 threads"))
        river.signal(SIGTERM)
        #expect(try await river.exited() == 0)
    }

    @Test(arguments: [
        ("port 9271\nbogus_key 1\n", ":2: bogus_key: unknown key 'bogus_key'"),
        ("port 9271\n\n# fine\nhistory_size lots\n", ":4: history_size: expected an integer, got 'lots'"),
        ("max_memory 12q\n", ":1: max_memory: expected a size in bytes (suffix k, m or g allowed), got '12q'"),
        ("port 70000\n", ":1: port: 70000 is out of range 0...65535"),
    ])
    func badConfigStopsStartUpWithFileLineAndReason(contents: String, expected: String) async throws {
        let path = try temporaryFile(contents)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let river = try await RiverProcess.start(["--config", path], waitForListening: false)
        #expect(try await river.exited() == 78)
        #expect(river.standardError == "river: \(path)\(expected)\n")
    }

    @Test func badFlagValueStopsStartUp() async throws {
        let river = try await RiverProcess.start(["--read-timeout", "soon"], waitForListening: false)
        #expect(try await river.exited() == 78)
        #expect(river.standardError.contains("--read-timeout: expected a duration in seconds"))
    }

    @Test func logLevelAndLogFile() async throws {
        let logPath = NSTemporaryDirectory() + "river-test-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let debug = try await RiverProcess.start(["--log-level", "debug", "--threads", "1"])
        _ = try await TestConnection.request(port: debug.port, "GET", "/nowhere")
        _ = try await debug.line(containing: "refused request")
        debug.signal(SIGTERM)
        #expect(try await debug.exited() == 0)

        let quiet = try await RiverProcess.start(["--threads", "1"])
        _ = try await TestConnection.request(port: quiet.port, "GET", "/nowhere")
        quiet.signal(SIGTERM)
        #expect(try await quiet.exited() == 0)
        #expect(!quiet.standardError.contains("refused request"))

        let toFile = try await RiverProcess.start(["--threads", "1", "--log", logPath], waitForListening: false)
        var logged = ""
        _ = try? await eventually("the log file has the start-up line") {
            logged = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return logged.contains("River listening on")
        }
        #expect(logged.contains("River listening on 127.0.0.1:"))
        toFile.signal(SIGTERM)
        #expect(try await toFile.exited() == 0)
    }
}
