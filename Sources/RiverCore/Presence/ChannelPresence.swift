import NIOCore

/// One channel's presence as an engine keeps it (on one loop): how many subscriptions it has,
/// and its members by user with their subscriptions. A member whose last
/// subscription ended stays listed until its leave is due
/// (`presence_leave_delay`), so a reconnect within the delay is neither a
/// leave nor a join.
public struct ChannelPresence: Sendable {
    public struct Record: Sendable {
        /// The latest identity given (its info may change between connections).
        public var member: PresenceMember
        public var connections: Int
        /// When its leave is due, while it has no subscription left.
        public var leaveDue: NIODeadline?
    }

    /// Subscriptions, anonymous ones and watchers included.
    public private(set) var connections = 0
    public private(set) var records: [PresenceMember: Record] = [:]

    public init() {}

    public var isEmpty: Bool { self.connections == 0 && self.records.isEmpty }

    /// A subscription started; true when `member` joins (its first, and it was not waiting to leave).
    public mutating func subscribed(_ member: PresenceMember?) -> Bool {
        self.connections += 1
        guard let member else { return false }
        if var record = self.records[member] {
            record.connections += 1
            record.member = member
            record.leaveDue = nil
            self.records[member] = record
            return false
        }
        self.records[member] = Record(member: member, connections: 1, leaveDue: nil)
        return true
    }

    /// A subscription ended; true when it was `member`'s last (its leave is due at `due`).
    public mutating func unsubscribed(_ member: PresenceMember?, leaveDue due: NIODeadline) -> Bool {
        self.connections -= 1
        guard let member, var record = self.records[member] else { return false }
        record.connections -= 1
        guard record.connections == 0 else {
            self.records[member] = record
            return false
        }
        record.leaveDue = due
        self.records[member] = record
        return true
    }

    /// A leave came due at `due`: the member leaves unless it subscribed again since. Returns who left.
    public mutating func leave(_ member: PresenceMember, dueAt due: NIODeadline) -> PresenceMember? {
        guard let record = self.records[member], record.connections == 0, record.leaveDue == due else { return nil }
        self.records[member] = nil
        return record.member
    }

    /// What `GET /presence` shows: at most `limit` members, ordered by user.
    public func snapshot(of channel: ChannelName, limit: Int) -> PresenceSnapshot {
        var snapshot = PresenceSnapshot(channel: channel)
        snapshot.connections = self.connections
        snapshot.users = self.records.count
        let ordered = self.records.values.sorted { PresenceMember.sortsBefore($0.member, $1.member) }
        snapshot.members = ordered.prefix(limit).map {
            PresenceSnapshot.Entry(member: $0.member, connections: $0.connections)
        }
        snapshot.truncated = ordered.count > limit
        return snapshot
    }
}
