import NIOCore

/// The application's decisions, each kept for its `ttl`, at most `capacity`
/// of them: when full, the least recently used goes first. An expired entry
/// is a miss, and is dropped when met.
///
/// A plain value with no lock: `Authorizer` keeps it under its own. Entries
/// live in arrays linked by index (no allocation per entry once grown), the
/// dictionary maps each key to its slot.
struct DecisionCache {
    private struct Entry {
        var key: DecisionKey
        var decision: ChannelDecision
        var expires: NIODeadline
        var newer: Int
        var older: Int
    }

    let capacity: Int
    private var slots: [DecisionKey: Int] = [:]
    private var entries: [Entry] = []
    /// Slots freed by expired entries, reused before the array grows.
    private var free: [Int] = []
    /// The most and least recently used slots (-1: none).
    private var newest = -1
    private var oldest = -1

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { self.slots.count }

    /// The decision kept for `key`, if it has not expired at `now`; it becomes the most recently used.
    mutating func decision(for key: DecisionKey, now: NIODeadline) -> ChannelDecision? {
        guard let slot = self.slots[key] else { return nil }
        guard self.entries[slot].expires > now else {
            self.remove(slot)
            return nil
        }
        self.unlink(slot)
        self.linkNewest(slot)
        return self.entries[slot].decision
    }

    /// Keeps `decision` until `expires`, making room by dropping the least recently used.
    mutating func store(_ decision: ChannelDecision, for key: DecisionKey, expires: NIODeadline) {
        guard self.capacity > 0 else { return }
        if let slot = self.slots[key] {
            self.entries[slot].decision = decision
            self.entries[slot].expires = expires
            self.unlink(slot)
            self.linkNewest(slot)
            return
        }
        if self.slots.count >= self.capacity, self.oldest >= 0 {
            self.remove(self.oldest)
        }
        let entry = Entry(key: key, decision: decision, expires: expires, newer: -1, older: -1)
        let slot: Int
        if let reused = self.free.popLast() {
            slot = reused
            self.entries[slot] = entry
        } else {
            slot = self.entries.count
            self.entries.append(entry)
        }
        self.slots[key] = slot
        self.linkNewest(slot)
    }

    /// Forgets every decision (tests, and a revoked credential's).
    mutating func removeAll() {
        self = DecisionCache(capacity: self.capacity)
    }

    private mutating func remove(_ slot: Int) {
        self.unlink(slot)
        self.slots[self.entries[slot].key] = nil
        self.free.append(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (self.entries[slot].newer, self.entries[slot].older)
        if newer >= 0 { self.entries[newer].older = older } else { self.newest = older }
        if older >= 0 { self.entries[older].newer = newer } else { self.oldest = newer }
        self.entries[slot].newer = -1
        self.entries[slot].older = -1
    }

    private mutating func linkNewest(_ slot: Int) {
        self.entries[slot].older = self.newest
        self.entries[slot].newer = -1
        if self.newest >= 0 { self.entries[self.newest].newer = slot }
        self.newest = slot
        if self.oldest < 0 { self.oldest = slot }
    }
}
