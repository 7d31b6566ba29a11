import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` for one test: on 127.0.0.1 and a free port, stopped
/// (killed) when the test is done with it. Nothing is persisted, unless
/// `persistent`: then every write is in an append-only file first, and a
/// restart finds the data again.
public final class RedisServerProcess: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    private let directory: String
    private let persistent: Bool
    private var process: ChildProcess?
    /// More `redis-server` arguments for the next `start()` (`--replicaof HOST PORT`, say).
    public var extraArguments: [String]

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    /// Starts a server without waiting for it to answer (`launch` waits).
    init(port: Int?, persistent: Bool, extraArguments: [String]) throws {
        self.port = try port ?? Self.freePort()
        self.persistent = persistent
        self.extraArguments = extraArguments
        self.directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("river-redis-\(self.port)-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        try self.spawn()
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Starts the process without waiting for it to answer.
    func spawn() throws {
        guard self.process == nil else { return }
        let executable = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let executable else {
            throw Failure(description: "redis-server is not installed (scripts/test installs Debian's redis-server)")
        }
        self.process = try ChildProcess(
            executable,
            [
                "--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.directory,
                "--loglevel", "warning",
            ] + (self.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"])
                + self.extraArguments
        )
    }

    /// The running process's id (nil once stopped).
    var processIdentifier: pid_t? { self.process?.processIdentifier }

    /// The running process, which the caller is now to stop.
    func takeProcess() -> ChildProcess? {
        defer { self.process = nil }
        return self.process
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients).
    public func stop() {
        guard let process = self.process else { return }
        self.process = nil
        process.signal(SIGKILL)
        process.signal(SIGCONT)
        _ = process.waitForExit(timeout: 10)
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is read or answered.
    public func suspend() {
        self.process?.signal(SIGSTOP)
    }

    /// Lets a suspended server go on (SIGCONT).
    public func resume() {
        self.process?.signal(SIGCONT)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A port nothing listens on right now, below the kernel's range for outgoing
    /// connections (/proc/sys/net/ipv4/ip_local_port_range): a server stopped and
    /// restarted on it (a shard killed, then back) never finds it taken by some
    /// client's connection meanwhile, as a port the kernel picked can be.
    public static func freePort() throws -> Int {
        let ephemeralLow = Self.ephemeralRangeStart()
        for _ in 0..<200 {
            let port = Int.random(in: 10_000..<max(ephemeralLow, 10_001))
            if Self.canBind(port) { return port }
        }
        throw Failure(description: "no free port found below \(ephemeralLow)")
    }

    /// The first port the kernel hands to outgoing connections (32768 when unreadable).
    private static func ephemeralRangeStart() -> Int {
        let range = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        return range?.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) }
            ?? 32768
    }

    /// Whether 127.0.0.1:`port` is free to listen on now.
    private static func canBind(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}
