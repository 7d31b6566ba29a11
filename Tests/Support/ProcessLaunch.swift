import Foundation

/// Starting a child process while this test process holds thousands of
/// open sockets crashes Foundation's `Process.run()` on Linux (an
/// out-of-bounds memmove inside it, seen when the ten-thousand-connection
/// test overlapped a `river` or `redis-server` launch). Every launch goes
/// through `run(_:)`, and a test that opens thousands of descriptors holds
/// `lock` while they are open.
public enum ProcessLaunch {
    public static let lock = NSLock()

    public static func run(_ process: Process) throws {
        try Self.lock.withLock { try process.run() }
    }
}
