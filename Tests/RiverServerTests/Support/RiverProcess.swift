import Foundation
import RiverTesting

/// The real `river` executable, started as a child process for tests that
/// need signals, exit codes, the command line or the process's memory.
final class RiverProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let process: ChildProcess
    private let output = OutputCollector()
    private(set) var port = 0

    /// The built `river` binary, next to the test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("river")
    }

    /// Starts `river` with `arguments` (plus `--host 127.0.0.1 --port 0` unless given) and,
    /// if `waitForListening`, waits for its start-up line to learn the port.
    init(_ arguments: [String], environment: [String: String] = [:], waitForListening: Bool = true) throws {
        var arguments = arguments
        if !arguments.contains("--host") { arguments += ["--host", "127.0.0.1"] }
        if !arguments.contains("--port") && !arguments.contains("--config") { arguments += ["--port", "0"] }
        self.process = try ChildProcess(
            Self.executable.path,
            arguments,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
            standardError: .pipe
        )
        let collector = self.output
        self.process.output?.readabilityHandler = { handle in
            collector.append(handle.availableData)
        }
        if waitForListening {
            let line = try self.waitForLine(containing: "River listening on")
            guard let range = line.range(of: #":(\d+) "#, options: .regularExpression) else {
                throw Failure(description: "no port in: \(line)")
            }
            self.port = Int(line[range].dropFirst().dropLast())!
        }
    }

    var standardError: String { self.output.text }

    func waitForLine(containing text: String, timeout: Double = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = self.output.text.split(separator: "\n").first(where: { $0.contains(text) }) {
                return String(line)
            }
            if !self.process.isRunning && !self.output.text.contains(text) {
                throw Failure(description: "river exited (\(self.process.terminationStatus)): \(self.output.text)")
            }
            usleep(10_000)
        }
        throw Failure(description: "no line containing '\(text)' within \(timeout) s: \(self.output.text)")
    }

    /// Waits for the process to exit; nil if it is still running after `timeout`.
    func waitForExit(timeout: Double = 10) -> Int32? {
        guard let status = self.process.waitForExit(timeout: timeout) else { return nil }
        usleep(50_000)  // let the pipe drain
        return status
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

/// Collects a child's output from the pipe's reader thread.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        self.lock.lock()
        self.data.append(chunk)
        self.lock.unlock()
    }

    var text: String {
        self.lock.lock()
        defer { self.lock.unlock() }
        return String(decoding: self.data, as: UTF8.self)
    }
}

/// A temporary file holding `contents`, removed by the caller.
func temporaryFile(_ contents: String, suffix: String = ".conf") throws -> String {
    let path = NSTemporaryDirectory() + "river-test-\(UUID().uuidString)\(suffix)"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
