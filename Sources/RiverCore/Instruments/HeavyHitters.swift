/// The channels that occur most in a stream of events (publishes), in
/// bounded memory: the Space-Saving sketch (Metwally, Agrawal and El Abbadi,
/// "Efficient Computation of Frequent and Top-k Elements in Data Streams",
/// 2005).
///
/// It keeps at most `capacity` counters. An event for a tracked channel adds
/// to its counter; an untracked one takes over the smallest counter and adds
/// to it, so a counter may overestimate its channel by at most the count it
/// inherited (`error`). Every channel that makes up more than 1/`capacity`
/// of the events is tracked. A million distinct channels cost the same
/// memory as `capacity` of them.
public struct HeavyHitters: Sendable {
    /// One tracked channel: `count` events, of which up to `error` may belong to channels it replaced.
    public struct Entry: Sendable, Equatable {
        public let channel: ChannelName
        public var count: UInt64
        public var error: UInt64
    }

    public let capacity: Int
    private var entries: [Entry] = []
    private var positions: [ChannelName: Int] = [:]

    public init(capacity: Int) {
        precondition(capacity > 0, "a sketch needs at least one counter")
        self.capacity = capacity
        self.entries.reserveCapacity(capacity)
        self.positions.reserveCapacity(capacity)
    }

    /// The number of channels tracked.
    public var count: Int { self.entries.count }

    /// Counts `weight` events for `channel`.
    public mutating func add(_ channel: ChannelName, weight: UInt64 = 1) {
        if let position = self.positions[channel] {
            self.entries[position].count &+= weight
            return
        }
        guard self.entries.count == self.capacity else {
            self.positions[channel] = self.entries.count
            self.entries.append(Entry(channel: channel, count: weight, error: 0))
            return
        }
        var smallest = 0
        for position in 1..<self.entries.count where self.entries[position].count < self.entries[smallest].count {
            smallest = position
        }
        let inherited = self.entries[smallest].count
        self.positions[self.entries[smallest].channel] = nil
        self.positions[channel] = smallest
        self.entries[smallest] = Entry(channel: channel, count: inherited &+ weight, error: inherited)
    }

    /// The tracked channels, most frequent first (ties in byte order of the name).
    public func top(_ limit: Int) -> [Entry] {
        Array(
            self.entries.sorted {
                $0.count != $1.count ? $0.count > $1.count : $1.channel.sorts(after: $0.channel.value)
            }.prefix(max(limit, 0))
        )
    }

    /// Forgets everything (the start of a new window).
    public mutating func removeAll() {
        self.entries.removeAll(keepingCapacity: true)
        self.positions.removeAll(keepingCapacity: true)
    }
}
