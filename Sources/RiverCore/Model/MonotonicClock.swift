import NIOCore

/// Where engines read the time for expiry, so retention can be tested by
/// moving a clock instead of waiting.
public struct MonotonicClock: Sendable {
    public let now: @Sendable () -> NIODeadline

    public init(now: @escaping @Sendable () -> NIODeadline) {
        self.now = now
    }

    /// The process's monotonic clock.
    public static let system = MonotonicClock { .now() }
}
