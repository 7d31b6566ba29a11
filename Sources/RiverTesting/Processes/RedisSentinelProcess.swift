import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-sentinel` for one test, on 127.0.0.1 and a free port,
/// monitoring one master with quorum 1 and short timeouts (a master that
/// does not answer for 1 s is failed over), stopped (killed) when the
/// test is done with it.
public final class RedisSentinelProcess: @unchecked Sendable {
    public let port: Int
    public let masterName: String
    private let directory: String
    private var process: ChildProcess?

    public var address: String { "127.0.0.1:\(self.port)" }

    /// Starts a Sentinel, blocking until it answers (async tests use `launch`).
    public convenience init(monitoring masterPort: Int, masterName: String = "river") throws {
        try self.init(monitoring: masterPort, masterName: masterName, waitingUntilReady: true)
    }

    /// Starts a Sentinel; waits for its PING answer only if `waitingUntilReady`.
    init(monitoring masterPort: Int, masterName: String, waitingUntilReady: Bool) throws {
        self.port = try RedisServerProcess.freePort()
        self.masterName = masterName
        self.directory =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("river-sentinel-\(self.port)-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        // Sentinel rewrites its configuration file, so it gets one of its own.
        let configuration = """
            port \(self.port)
            bind 127.0.0.1
            dir \(self.directory)
            loglevel notice
            logfile \(self.directory)/sentinel.log
            sentinel monitor \(masterName) 127.0.0.1 \(masterPort) 1
            sentinel down-after-milliseconds \(masterName) 1000
            sentinel failover-timeout \(masterName) 6000
            sentinel parallel-syncs \(masterName) 1

            """
        let path = self.directory + "/sentinel.conf"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        let executable = ["/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let executable else {
            throw RedisServerProcess.Failure(
                description: "redis-sentinel is not installed (scripts/test installs Debian's redis-sentinel)"
            )
        }
        self.process = try ChildProcess(executable, [path])
        guard waitingUntilReady else { return }
        for _ in 0..<500 {
            if (try? RedisServerProcess.command(port: self.port, "PING")) == "+PONG\r\n" { return }
            usleep(10_000)
        }
        self.stop()
        throw RedisServerProcess.Failure(description: "redis-sentinel did not answer on port \(self.port)")
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// What Sentinel logged (its failover steps), for failure messages.
    public var log: String {
        (try? String(contentsOfFile: self.directory + "/sentinel.log", encoding: .utf8)) ?? ""
    }

    /// The running process, which the caller is now to stop.
    func takeProcess() -> ChildProcess? {
        defer { self.process = nil }
        return self.process
    }

    public func stop() {
        guard let process = self.process else { return }
        self.process = nil
        process.signal(SIGKILL)
        _ = process.waitForExit(timeout: 10)
    }

    /// The port of the master this Sentinel names now.
    public func masterPort() throws -> Int? {
        let reply = try RedisServerProcess.command(
            port: self.port,
            "SENTINEL",
            "get-master-addr-by-name",
            self.masterName
        )
        return reply.split(separator: "\r\n").last.flatMap { Int($0) }
    }

    /// False once a failover Sentinel started is over (until then it may
    /// name the replica it promotes, and go back to the old master if that
    /// returns in time).
    public func isFailingOver() throws -> Bool {
        try RedisServerProcess.command(port: self.port, "SENTINEL", "master", self.masterName)
            .contains("failover_in_progress")
    }

    /// How many replicas of the master this Sentinel knows.
    public func replicaCount() throws -> Int {
        let reply = try RedisServerProcess.command(port: self.port, "SENTINEL", "replicas", self.masterName)
        // ("\r\n" is one Character in Swift: split on it, not on "\r".)
        guard let first = reply.split(separator: "\r\n").first, first.hasPrefix("*") else { return 0 }
        return Int(first.dropFirst()) ?? 0
    }
}
