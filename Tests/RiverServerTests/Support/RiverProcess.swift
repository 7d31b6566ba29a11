import Foundation
import RiverTesting

#if canImport(Glibc)
import Glibc
#endif

/// The real `river` executable, started as a child process for tests that
/// need signals, exit codes, the command line or the process's memory.
/// `start`, `line(containing:)` and `exited()` hold no thread while they wait.
final class RiverProcess: @unchecked Sendable {
    // (@unchecked: `port` is set once, before the process is handed out.)
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let process: ChildProcess
    private let output: PipeReader
    private(set) var port = 0

    /// The built `river` binary, next to the test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("river")
    }

    /// Starts `river` (`executable`: the debug build next to the test bundle unless given)
    /// with `arguments` (plus `--host 127.0.0.1 --port 0` unless given) and, if
    /// `waitForListening`, waits (without holding a thread) for its start-up line to learn the port.
    static func start(
        _ arguments: [String],
        executable: URL = RiverProcess.executable,
        environment: [String: String] = [:],
        waitForListening: Bool = true
    ) async throws -> RiverProcess {
        let river = try RiverProcess(spawning: arguments, executable: executable, environment: environment)
        if waitForListening {
            try river.learnPort(from: try await river.output.line(containing: "River listening on"))
        }
        return river
    }

    /// Runs `body` with a `river` started with `arguments`, then stops it (SIGTERM; SIGKILL if it lingers).
    static func with<T>(
        _ arguments: [String],
        environment: [String: String] = [:],
        _ body: (RiverProcess) async throws -> T
    ) async throws -> T {
        let river = try await RiverProcess.start(arguments, environment: environment)
        do {
            let result = try await body(river)
            try await river.stop()
            return result
        } catch {
            try? await river.stop()
            throw error
        }
    }

    private init(spawning arguments: [String], executable: URL, environment: [String: String]) throws {
        var arguments = arguments
        if !arguments.contains("--host") { arguments += ["--host", "127.0.0.1"] }
        if !arguments.contains("--port") && !arguments.contains("--config") { arguments += ["--port", "0"] }
        self.process = try ChildProcess(
            executable.path,
            arguments,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
            standardError: .pipe
        )
        self.output = PipeReader(self.process.output!)
    }

    private func learnPort(from line: String) throws {
        guard let range = line.range(of: #":(\d+) "#, options: .regularExpression) else {
            throw Failure(description: "no port in: \(line)")
        }
        self.port = Int(line[range].dropFirst().dropLast())!
    }

    /// Everything the process wrote to its standard error so far.
    var standardError: String { self.output.text }

    /// The first line of its standard error containing `text`, waiting for it (without holding a thread).
    func line(containing text: String, within timeout: Duration = .seconds(10)) async throws -> String {
        try await self.output.line(containing: text, within: timeout)
    }

    /// Waits for the process to exit and for its standard error to end: its
    /// exit status, or nil if it still runs after `timeout`.
    func exited(within timeout: Duration = .seconds(10)) async throws -> Int32? {
        guard let status = try await self.process.exited(within: timeout) else { return nil }
        try await self.output.end()
        return status
    }

    /// SIGTERM, and SIGKILL if it has not exited within 10 s.
    func stop() async throws {
        self.signal(SIGTERM)
        if try await self.exited() == nil { try await self.process.stop() }
    }

    func signal(_ number: Int32) {
        self.process.signal(number)
    }

    /// Resident memory in KiB, from /proc.
    func residentKiB() throws -> Int {
        try RiverServerTests.residentKiB(pid: self.process.processIdentifier)
    }
}

/// A process's resident memory in KiB, from /proc.
func residentKiB(pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { throw RiverProcess.Failure(description: "no VmRSS") }
    return kib
}

/// A temporary file holding `contents`, removed by the caller.
func temporaryFile(_ contents: String, suffix: String = ".conf") throws -> String {
    let path = NSTemporaryDirectory() + "river-test-\(UUID().uuidString)\(suffix)"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
