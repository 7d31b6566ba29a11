import Foundation
import RiverTesting

/// curl as a child process: a real HTTPS client (OpenSSL, not NIOSSL) for
/// tests of River's TLS. Every run is bounded (`--max-time`), and a stream
/// is stopped by the test, by its PID, once what it waited for has arrived
/// (or killed when the test lets go of it). No wait holds a thread.
final class Curl: Sendable {
    let process: ChildProcess
    private let output: PipeReader

    /// Starts `curl --http1.1 --silent --show-error` with `arguments`; standard output and error both collected.
    init(_ arguments: [String], maxTime: Int = 20) throws {
        self.process = try ChildProcess(
            "/usr/bin/curl",
            ["--http1.1", "--silent", "--show-error", "--max-time", "\(maxTime)"] + arguments,
            standardOutput: .pipe,
            standardError: .pipe
        )
        self.output = PipeReader(self.process.output!)
    }

    /// What curl has written so far.
    var text: String { self.output.text }

    /// Runs curl to its end: its exit status and everything it wrote.
    static func run(_ arguments: [String], maxTime: Int = 20) async throws -> (status: Int32, output: String) {
        let curl = try Curl(arguments, maxTime: maxTime)
        guard let status = try await curl.process.exited(within: .seconds(maxTime + 5)) else {
            throw TestFailure("curl still running: \(curl.text)")
        }
        // Everything curl wrote is read once the pipe ends (a busy machine may take a while).
        try await curl.output.end()
        return (status, curl.text)
    }

    /// Waits until curl's output contains `text` (a stream's event arrived).
    func waitForOutput(containing text: String, timeout: Duration = .seconds(10)) async throws {
        try await eventually("curl's output contains '\(text)'", timeout: timeout) {
            if self.text.contains(text) { return true }
            if !self.process.isRunning && self.output.isAtEnd {
                throw TestFailure("curl ended without '\(text)': \(self.text)")
            }
            return false
        }
    }

    /// Ends a streaming curl (SIGTERM to its PID) and reaps it.
    func stop() async throws {
        self.process.signal(SIGTERM)
        if try await self.process.exited() == nil { try await self.process.stop() }
    }
}
