import NIOCore
import RiverCore

/// Everything the dashboard reads once a second: the server's cumulative
/// figures (`ServerStatistics`), each loop's window (what happened since the
/// previous reading), and when it was read.
struct DashboardReading: Sendable {
    /// One loop's window: its busiest publishers and worst lag since the
    /// previous reading, and its largest channels now.
    struct LoopWindow: Sendable {
        var publishers: [HeavyHitters.Entry] = []
        var worstLag = TimeAmount.zero
        var largestChannels: [ChannelCount] = []
    }

    /// A channel and a count (publishes, or subscribers).
    struct ChannelCount: Sendable, Equatable {
        let channel: ChannelName
        let count: Int
    }

    var statistics: ServerStatistics
    var windows: [LoopWindow]
    /// The first loop's clock (moved by hand in tests).
    var at: NIODeadline
    var wallMillis: Int64
    var residentBytes: Int?

    /// Takes one loop's window (on that loop); the next window starts empty.
    static func window(of loop: ServerLoop, channels limit: Int) -> LoopWindow {
        var window = LoopWindow()
        if let instruments = loop.instruments {
            let taken = instruments.takeWindow()
            window.publishers = taken.publishers
            window.worstLag = taken.worstLag
        }
        if let largest = loop.hub.instruments?.largestChannels.top(limit) {
            window.largestChannels = largest.map { ChannelCount(channel: $0.channel, count: $0.count) }
        }
        return window
    }

    /// The channels most published to over the windows, all loops together, most first.
    func topPublishing(_ limit: Int) -> [ChannelCount] {
        var counts: [ChannelName: UInt64] = [:]
        for window in self.windows {
            for entry in window.publishers { counts[entry.channel, default: 0] &+= entry.count }
        }
        return Self.largest(counts.map { ChannelCount(channel: $0.key, count: Int(clamping: $0.value)) }, limit)
    }

    /// The channels with the most subscribers, all loops together, most first.
    func topSubscribed(_ limit: Int) -> [ChannelCount] {
        var counts: [ChannelName: Int] = [:]
        for window in self.windows {
            for entry in window.largestChannels { counts[entry.channel, default: 0] += entry.count }
        }
        return Self.largest(counts.map { ChannelCount(channel: $0.key, count: $0.value) }, limit)
    }

    private static func largest(_ counts: [ChannelCount], _ limit: Int) -> [ChannelCount] {
        Array(
            counts.sorted {
                $0.count != $1.count ? $0.count > $1.count : $1.channel.sorts(after: $0.channel.value)
            }.prefix(limit)
        )
    }
}
