import NIOCore

/// What a `LoopHub` measures for the dashboard and `/metrics` when they are
/// on (`dashboard`): how long delivery takes, and its largest channels.
/// Confined to the hub's loop.
public final class HubInstruments {
    /// Publish to delivered, one observation per delivery round: the round's
    /// oldest message, from the engine accepting it on this node to the
    /// round's last write (one clock read the round makes anyway).
    public private(set) var deliveryLatency = LatencyHistogram()
    /// The channels with the most subscribers on this loop.
    public private(set) var largestChannels: LargestChannels

    public init(trackedChannels: Int) {
        self.largestChannels = LargestChannels(capacity: trackedChannels)
    }

    func roundFinished(oldestPublishedAt: NIODeadline, at now: NIODeadline) {
        self.deliveryLatency.record(now - oldestPublishedAt)
    }

    func subscribersChanged(_ channel: ChannelName, count: Int) {
        self.largestChannels.update(channel, count: count)
    }
}

@available(*, unavailable)
extension HubInstruments: Sendable {}
