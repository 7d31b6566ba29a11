import Synchronization

/// How many presence members an engine holds on this node: users with a
/// subscription here, or waiting out `presence_leave_delay`, counted once per
/// channel. Kept at each join and leave on the channels' loops, read by
/// `/stats`, `/metrics` and the dashboard from anywhere without a hop.
public final class PresenceTally: Sendable {
    private let count = Atomic<Int>(0)

    public init() {}

    /// Members now.
    public var members: Int { self.count.load(ordering: .relaxed) }

    /// `delta` members joined (positive) or left (negative).
    public func add(_ delta: Int) {
        guard delta != 0 else { return }
        self.count.wrappingAdd(delta, ordering: .relaxed)
    }
}
