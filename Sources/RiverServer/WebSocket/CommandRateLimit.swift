import NIOCore

/// How many commands a `river.v2` connection may send: a bucket of
/// `max_commands_per_second` tokens, refilled at that rate (a burst of as
/// many is allowed). Beyond it each command is answered 429; the connection lives on.
struct CommandRateLimit {
    private let perSecond: Int
    private var tokens: Double
    private var refilledAt: NIODeadline

    init(perSecond: Int, now: NIODeadline) {
        self.perSecond = perSecond
        self.tokens = Double(perSecond)
        self.refilledAt = now
    }

    /// Takes a token for one command; false when none is left.
    mutating func admit(now: NIODeadline) -> Bool {
        let elapsed = Double((now - self.refilledAt).nanoseconds) / 1e9
        if elapsed > 0 {
            self.tokens = min(Double(self.perSecond), self.tokens + elapsed * Double(self.perSecond))
            self.refilledAt = now
        }
        guard self.tokens >= 1 else { return false }
        self.tokens -= 1
        return true
    }
}
