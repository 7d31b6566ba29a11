import NIOCore
import RiverCore

/// Everything the memory engine knows about one channel. Owned by, and only
/// touched on, the channel's home event loop.
final class ChannelState {
    let name: ChannelName
    /// Distinguishes this incarnation from a later channel of the same name
    /// inside this process.
    let token: UInt64
    /// Names this incarnation to clients, across restarts too: random, below
    /// 2^53 so JavaScript reads it exactly.
    let epoch = UInt64.random(in: 1..<(1 << 53))
    /// The last assigned seq; the next publish gets `seq + 1`.
    var seq: UInt64 = 0
    var history = MessageHistory()
    /// Subscribers per hub (event loop): where to send live batches.
    var subscribersPerHub: [Int]
    var subscriberTotal = 0
    var lastPublishMillis: Int64?
    /// Who is subscribed, for presence.
    var presence = ChannelPresence()
    /// When the channel last became idle (no subscribers, no history).
    var idleSince: NIODeadline
    var inIdleQueue = false
    /// Set when the channel was deleted or reclaimed; queue entries pointing
    /// here are then stale.
    var isRetired = false

    init(name: ChannelName, token: UInt64, hubCount: Int, now: NIODeadline) {
        self.name = name
        self.token = token
        self.subscribersPerHub = Array(repeating: 0, count: hubCount)
        self.idleSince = now
    }

    var isIdle: Bool { self.subscriberTotal == 0 && self.history.isEmpty && self.presence.isEmpty }
}

@available(*, unavailable)
extension ChannelState: Sendable {}
