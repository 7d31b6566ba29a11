import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-sentinel` for one test, on 127.0.0.1 and a free port,
/// monitoring one master with quorum 1 and short timeouts (a master that
/// does not answer for 1 s is failed over; a failover Sentinel could not
/// start is tried again after twice `failoverTimeoutMillis`), stopped
/// (killed) when the test is done with it.
public final class RedisSentinelProcess: @unchecked Sendable {
    public let port: Int
    public let masterName: String
    private let directory: String
    private var process: ChildProcess?

    public var address: String { "127.0.0.1:\(self.port)" }

    /// Starts a Sentinel without waiting for it to answer (`launch` waits).
    init(monitoring masterPort: Int, masterName: String, failoverTimeoutMillis: Int) throws {
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
            sentinel failover-timeout \(masterName) \(failoverTimeoutMillis)
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

    /// Freezes the Sentinel (SIGSTOP): it neither answers nor votes.
    public func suspend() {
        self.process?.signal(SIGSTOP)
    }

    /// Lets a suspended Sentinel go on (SIGCONT).
    public func resume() {
        self.process?.signal(SIGCONT)
    }

    public func stop() {
        guard let process = self.process else { return }
        self.process = nil
        process.signal(SIGKILL)
        _ = process.waitForExit(timeout: 10)
    }
}
