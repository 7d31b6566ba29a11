import DequeModule
import NIOCore

/// Every retained message of one store in publish order: the front is the
/// oldest, which is what history expiry and the `max_memory` bound remove first.
///
/// Messages also leave history out of this order (a channel's count limit, a
/// delete); their entries go stale and are skipped, and the queue compacts
/// itself whenever stale entries outnumber live ones, so its size stays
/// proportional to the retained messages.
struct RetentionQueue {
    struct Entry {
        let state: ChannelState
        let seq: UInt64
        let publishedAt: NIODeadline
        let chargedBytes: Int

        /// True when the entry's message is still its channel's oldest retained one.
        var isOldestRetained: Bool {
            !self.state.isRetired && self.state.history.first?.seq == self.seq
        }
    }

    private var entries: Deque<Entry> = []

    var count: Int { self.entries.count }
    var first: Entry? { self.entries.first }

    mutating func append(_ entry: Entry) {
        self.entries.append(entry)
    }

    mutating func removeFirst() -> Entry? { self.entries.popFirst() }

    /// Gives back the capacity a past peak left behind.
    mutating func shrink() {
        self.entries = Deque(self.entries)
    }

    /// Drops stale entries when they outnumber the `retained` live ones.
    mutating func compactIfNeeded(retained: Int) {
        guard self.entries.count > 2 * retained + 1024 else { return }
        var live: Deque<Entry> = []
        live.reserveCapacity(retained)
        for entry in self.entries where !entry.state.isRetired && entry.state.history.contains(seq: entry.seq) {
            live.append(entry)
        }
        self.entries = live
    }
}
