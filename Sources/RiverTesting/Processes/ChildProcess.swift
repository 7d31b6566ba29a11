import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process for the tests (`river`, `redis-server`, `chromedriver`,
/// Python), started with `posix_spawn` and reaped with `waitpid`.
///
/// Not Foundation's `Process`: on Linux its `run()` lists `/proc/self/fd`
/// copying each entry's whole 256-byte `d_name`, which reads past glibc's
/// buffer and now and then crashes the test process (SIGSEGV in memmove;
/// swift-corelibs-foundation PR 5472, seen in this suite). Here the child
/// gets `/dev/null` or one pipe on its standard streams, every other
/// descriptor closed (`posix_spawn_file_actions_addclosefrom_np`), the
/// default disposition of every signal and an empty signal mask. (A stream
/// can also go to a descriptor of the caller's: a pseudo-terminal, to test
/// what a program does on a terminal.) A child that starts children of its
/// own (chromedriver starts Chromium) may lead a process group of its own:
/// its signals then go to the whole group, so nothing it started outlives it.
public final class ChildProcess: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Where a standard stream of the child goes.
    public enum Destination: Equatable {
        case discard
        /// To `output` (both streams to the same pipe when both say so).
        case pipe
        /// To this open descriptor of the caller's (a second pipe, a pseudo-terminal), which the caller closes.
        case descriptor(Int32)
    }

    public let processIdentifier: pid_t
    /// The read end of the child's pipe, when a stream goes to `.pipe`.
    public let output: FileHandle?
    private let lock = NSLock()
    private var status: Int32?
    /// Whether it leads a process group of its own (`ownProcessGroup`).
    private let leadsGroup: Bool

    public init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        standardOutput: Destination = .discard,
        standardError: Destination = .discard,
        ownProcessGroup: Bool = false
    ) throws {
        self.leadsGroup = ownProcessGroup
        var pipeEnds: [Int32] = [-1, -1]
        let piped = standardOutput == .pipe || standardError == .pipe
        if piped {
            guard pipe(&pipeEnds) == 0 else { throw Failure(description: "pipe: errno \(errno)") }
            for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        }
        defer { if piped { close(pipeEnds[1]) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (stream, destination) in [(Int32(1), standardOutput), (Int32(2), standardError)] {
            switch destination {
            case .discard: posix_spawn_file_actions_addopen(&actions, stream, "/dev/null", O_WRONLY, 0)
            case .pipe: posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], stream)
            case .descriptor(let descriptor): posix_spawn_file_actions_adddup2(&actions, descriptor, stream)
            }
        }
        try Self.closeFrom(3, in: &actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)  // (a group whose number is the child's)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = argv.withUnsafeBufferPointer { argv in
            envp.withUnsafeBufferPointer { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv.baseAddress!, envp.baseAddress!)
            }
        }
        guard spawned == 0 else {
            if piped { close(pipeEnds[0]) }
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        self.processIdentifier = pid
        self.output = piped ? FileHandle(fileDescriptor: pipeEnds[0], closeOnDealloc: true) : nil
    }

    deinit {
        self.signal(SIGKILL)
        _ = self.waitForExit(timeout: 10)
    }

    /// Whether the child has not exited yet (reaping it once it has).
    public var isRunning: Bool {
        self.lock.withLock {
            guard self.status == nil else { return false }
            var status: Int32 = 0
            guard waitpid(self.processIdentifier, &status, WNOHANG) == self.processIdentifier else { return true }
            self.status = status
            return false
        }
    }

    /// The exit code, or the number of the signal that ended the child (as Foundation's `Process` says it).
    public var terminationStatus: Int32 {
        self.lock.withLock {
            guard let status = self.status else { return -1 }
            return status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        }
    }

    /// Sends `number` to the child (and its group, if it leads one), unless it was reaped: its number
    /// may be another process's by then. (Until it is reaped it holds the number, its group's too.)
    public func signal(_ number: Int32) {
        self.lock.withLock {
            guard self.status == nil else { return }
            kill(self.leadsGroup ? -self.processIdentifier : self.processIdentifier, number)
        }
    }

    /// Polls until the child exits, holding the thread: its `terminationStatus`, or nil if it
    /// still runs after `timeout` seconds. For `deinit`s, which cannot await; tests use `exited`.
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while self.isRunning {
            guard Date() < deadline else { return nil }
            usleep(10_000)
        }
        return self.terminationStatus
    }

    /// Closes every descriptor from `lowest` up in the child (glibc 2.34 and later).
    private static func closeFrom(_ lowest: Int32, in actions: inout posix_spawn_file_actions_t) throws {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            throw Failure(description: "this glibc lacks posix_spawn_file_actions_addclosefrom_np (2.34+)")
        }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }
}
