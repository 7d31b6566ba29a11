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

    /// Starts a server on `port`, or on a free one, blocking until it answers
    /// (async tests use `launch`, which holds no thread while it waits).
    public convenience init(port: Int? = nil, persistent: Bool = false, extraArguments: [String] = []) throws {
        try self.init(port: port, persistent: persistent, extraArguments: extraArguments, waitingUntilReady: true)
    }

    /// Starts a server; waits for its PING answer only if `waitingUntilReady`.
    init(port: Int?, persistent: Bool, extraArguments: [String], waitingUntilReady: Bool) throws {
        self.port = try port ?? Self.freePort()
        self.persistent = persistent
        self.extraArguments = extraArguments
        self.directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("river-redis-\(self.port)-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        if waitingUntilReady { try self.start() } else { try self.spawn() }
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// Starts the server again after `stop()`: empty unless `persistent`.
    public func start() throws {
        guard self.process == nil else { return }
        try self.spawn()
        for _ in 0..<500 {
            if self.answersPing() { return }
            usleep(10_000)
        }
        self.stop()
        throw Failure(description: "redis-server did not answer on port \(self.port)")
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

    /// Sends raw RESP and returns the first reply line (for test set-up).
    public func command(_ words: String...) throws -> String {
        var request = "*\(words.count)\r\n"
        for word in words { request += "$\(word.utf8.count)\r\n\(word)\r\n" }
        return try Self.exchange(port: self.port, request)
    }

    private func answersPing() -> Bool {
        (try? Self.exchange(port: self.port, "PING\r\n")) == "+PONG"
    }

    /// Sends raw RESP to `port` (a Sentinel, say) and returns the first reply line.
    public static func command(port: Int, _ words: String...) throws -> String {
        var request = "*\(words.count)\r\n"
        for word in words { request += "$\(word.utf8.count)\r\n\(word)\r\n" }
        return try Self.exchange(port: port, request, wholeReply: true)
    }

    private static func exchange(port: Int, _ request: String, wholeReply: Bool = false) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to redis on \(port)") }
        _ = request.withCString { send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { throw Failure(description: "no reply from redis on \(port)") }
        if wholeReply { return String(decoding: buffer[0..<count], as: UTF8.self) }
        return String(decoding: buffer[0..<count].prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A port nothing listens on right now (the kernel's pick).
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed: \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname() failed: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
