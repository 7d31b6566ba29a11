import Atomics

/// Counts open client connections across all event loops against
/// `max_connections`. One atomic operation per connection opened or closed;
/// nothing per message.
final class ConnectionLimiter: Sendable {
    let limit: Int
    private let open = ManagedAtomic(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a slot; false (and nothing taken) when the server is full.
    func acquire() -> Bool {
        if self.open.loadThenWrappingIncrement(ordering: .relaxed) < self.limit { return true }
        self.open.wrappingDecrement(ordering: .relaxed)
        return false
    }

    func release() { self.open.wrappingDecrement(ordering: .relaxed) }

    var current: Int { self.open.load(ordering: .relaxed) }
}
