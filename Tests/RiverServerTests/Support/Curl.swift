import Foundation
import RiverTesting

/// curl as a child process: a real HTTPS client (OpenSSL, not NIOSSL) for
/// tests of River's TLS. Every run is bounded (`--max-time`), and a stream
/// is stopped by the test, by its PID, once what it waited for has arrived.
final class Curl {
    let process: ChildProcess
    private let output = OutputCollector()
    /// Whether the pipe reached its end (curl exited and everything it wrote was read).
    private let ended = EndOfOutput()

    /// Starts `curl --http1.1 --silent --show-error` with `arguments`; standard output and error both collected.
    init(_ arguments: [String], maxTime: Int = 20) throws {
        self.process = try ChildProcess(
            "/usr/bin/curl",
            ["--http1.1", "--silent", "--show-error", "--max-time", "\(maxTime)"] + arguments,
            standardOutput: .pipe,
            standardError: .pipe
        )
        let collector = self.output
        let ended = self.ended
        self.process.output?.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                ended.reached()
            } else {
                collector.append(data)
            }
        }
    }

    /// What curl has written so far.
    var text: String { self.output.text }

    /// Runs curl to its end: its exit status and everything it wrote.
    static func run(_ arguments: [String], maxTime: Int = 20) throws -> (status: Int32, output: String) {
        let curl = try Curl(arguments, maxTime: maxTime)
        guard let status = curl.process.waitForExit(timeout: Double(maxTime) + 5) else {
            throw RiverProcess.Failure(description: "curl still running: \(curl.text)")
        }
        // Everything curl wrote is read once the pipe ends (a busy machine may take a while).
        let deadline = Date().addingTimeInterval(10)
        while !curl.ended.isReached && Date() < deadline {
            usleep(10_000)
        }
        return (status, curl.text)
    }

    /// Waits until curl's output contains `text` (a stream's event arrived).
    func waitForOutput(containing text: String, timeout: Double = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !self.text.contains(text) {
            guard Date() < deadline, self.process.isRunning || self.text.contains(text) else {
                throw RiverProcess.Failure(description: "curl output lacks '\(text)': \(self.text)")
            }
            usleep(10_000)
        }
    }

    /// Ends a streaming curl (SIGTERM to its PID) and reaps it.
    func stop() {
        self.process.signal(SIGTERM)
        _ = self.process.waitForExit(timeout: 10)
    }
}

/// Set from the pipe's reader thread when the output ends.
private final class EndOfOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var ended = false

    func reached() { self.lock.withLock { self.ended = true } }

    var isReached: Bool { self.lock.withLock { self.ended } }
}
