/// When a connection's writes are flushed. Answers written while reading
/// wait for the end of the loop tick, so every response one poll produced
/// leaves in one burst (`ServerLoop.flushAtEndOfTick`); answers completed
/// later (by the engine, a token check) are flushed at once.
struct PendingFlush {
    private var written = false
    private var queued = false

    /// Bytes were written and not flushed.
    mutating func wrote() {
        self.written = true
    }

    /// A burst of writes ended (a read's answers, a round of deliveries):
    /// true when a flush must be queued for the end of the tick.
    mutating func burstEnded() -> Bool {
        guard self.written && !self.queued else { return false }
        self.queued = true
        return true
    }

    /// True when there is something to flush now.
    mutating func flushNow() -> Bool {
        defer { self.written = false }
        return self.written
    }

    /// The queued flush is due: true when there is something to flush.
    mutating func queuedFlushDue() -> Bool {
        self.queued = false
        return self.flushNow()
    }

    /// Everything written went out with a write-and-flush.
    mutating func flushed() {
        self.written = false
    }
}
