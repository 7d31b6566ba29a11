/// The channels with the most subscribers on one event loop, in bounded
/// memory: a table of at most `capacity` channels and their current counts.
///
/// The hub reports a channel's count whenever it changes. A channel already
/// in the table is updated (and leaves it at zero); one outside enters when
/// the table has room or when its count passes the smallest count in it,
/// which it then replaces. So every channel is considered each time a
/// subscriber joins it; a channel that grew while the table was full of
/// larger ones enters at its next join once they have shrunk below it.
/// No map of every channel is kept.
public struct LargestChannels: Sendable {
    public let capacity: Int
    private var counts: [ChannelName: Int] = [:]

    public init(capacity: Int) {
        precondition(capacity > 0, "the table needs at least one place")
        self.capacity = capacity
        self.counts.reserveCapacity(capacity)
    }

    /// `channel` now has `count` subscribers here.
    public mutating func update(_ channel: ChannelName, count: Int) {
        if self.counts[channel] != nil {
            self.counts[channel] = count > 0 ? count : nil
            return
        }
        guard count > 0 else { return }
        guard self.counts.count == self.capacity else {
            self.counts[channel] = count
            return
        }
        guard let smallest = self.counts.min(by: { $0.value < $1.value }), smallest.value < count else { return }
        self.counts[smallest.key] = nil
        self.counts[channel] = count
    }

    /// The tracked channels and their counts, largest first (ties in byte order of the name).
    public func top(_ limit: Int) -> [(channel: ChannelName, count: Int)] {
        Array(
            self.counts.map { (channel: $0.key, count: $0.value) }.sorted {
                $0.count != $1.count ? $0.count > $1.count : $1.channel.sorts(after: $0.channel.value)
            }.prefix(max(limit, 0))
        )
    }
}
