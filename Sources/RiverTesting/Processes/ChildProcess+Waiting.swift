import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// Waits until the child exits, without holding a thread: its
    /// `terminationStatus`, or nil if it still runs after `timeout`.
    public func exited(within timeout: Duration = .seconds(10)) async throws -> Int32? {
        do {
            try await eventually("process \(self.processIdentifier) exits", timeout: timeout) { !self.isRunning }
        } catch is TimedOut {
            return nil
        }
        return self.terminationStatus
    }

    /// Kills the child (SIGKILL, and SIGCONT should it be stopped) and waits for it to go.
    public func stop() async throws {
        self.signal(SIGKILL)
        self.signal(SIGCONT)
        _ = try await self.exited()
    }
}

/// Everything a child writes to its pipe (`ChildProcess.output`), read on a
/// thread of its own until the pipe ends, so no test thread blocks on it.
public final class PipeReader: @unchecked Sendable {
    // (@unchecked: `data` and `ended` are only touched under the lock.)
    private let lock = NSLock()
    private var data = Data()
    private var ended = false

    /// Starts reading `handle` at once.
    public init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                self.lock.withLock { self.data.append(contentsOf: chunk[0..<count]) }
            }
            self.lock.withLock { self.ended = true }
            withExtendedLifetime(handle) {}
        }
        thread.start()
    }

    /// What was read so far, as UTF-8 text.
    public var text: String {
        self.lock.withLock { String(decoding: self.data, as: UTF8.self) }
    }

    /// What was read so far.
    public var bytes: Data {
        self.lock.withLock { self.data }
    }

    /// True once every writer closed the pipe (the child exited).
    public var isAtEnd: Bool {
        self.lock.withLock { self.ended }
    }

    /// Waits until the pipe ends: after it, `text` is all the child wrote.
    public func end(within timeout: Duration = .seconds(10)) async throws {
        try await eventually("the child's pipe ends", timeout: timeout) { self.isAtEnd }
    }

    /// Waits for a line containing `text` (the child still running, or gone
    /// having written it); throws if the pipe ends or `timeout` passes without one.
    public func line(containing text: String, within timeout: Duration = .seconds(10)) async throws -> String {
        try await eventually("a line containing '\(text)'; the child wrote:\n\(self.text)", timeout: timeout) {
            let ended = self.isAtEnd
            if let line = self.text.split(separator: "\n").first(where: { $0.contains(text) }) {
                return String(line)
            }
            if ended { throw TestFailure("the child's output ended without '\(text)':\n\(self.text)") }
            return nil
        }
    }
}
