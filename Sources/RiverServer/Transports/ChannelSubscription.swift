import RiverCore

/// One channel of a `StreamSubscriber`, as its loop's hub sees it: the hub
/// offers it the channel's live messages, and it hands them to the
/// connection's subscriber, which writes every channel to one output.
///
/// Small on purpose (a parked subscription is what a server holds most of):
/// the name (shared with the hub), the hub's channel, positions, the engine's
/// token and the hub slot.
final class ChannelSubscription: Subscriber {
    enum Phase: Equatable {
        case subscribing
        /// In the hub and registered with the engine under `token`.
        case joined(token: UInt64)
        case left
    }

    unowned let stream: StreamSubscriber
    private(set) var channel: ChannelName
    /// The hub's channel while joined: the stream takes its pending messages
    /// when another of its channels is visited.
    private(set) var local: LocalChannel?
    /// The last seq written or accepted for writing: the hub offers only what comes after.
    var deliveredSeq: UInt64 = 0
    /// The last seq written to the output (a cursor says where the client stands).
    var writtenSeq: UInt64 = 0
    /// The channel incarnation followed (0: not known yet).
    private(set) var epoch: UInt64 = 0
    private(set) var phase = Phase.subscribing
    /// Who subscribed, for presence (nil: anonymous); it is not told of its own joins and leaves.
    let member: PresenceMember?
    private var slot: Int32 = -1
    /// Whether it asked for presence events (`presence=1`).
    let wantsPresence: Bool

    init(_ start: ChannelStart, stream: StreamSubscriber) {
        self.channel = start.channel
        self.member = start.member
        self.wantsPresence = start.wantsPresence
        self.stream = stream
        stream.loop.lifetimeObserver?.track(self)
    }

    /// Its position in its hub's list (`LoopHub` keeps it).
    var hubSlot: Int {
        get { Int(self.slot) }
        set { self.slot = Int32(truncatingIfNeeded: newValue) }
    }

    /// The engine registered the interest: join the hub, live after `catchUp.lastSeq`.
    func join(_ subscribed: SubscribeResult, hub: LoopHub) {
        self.phase = .joined(token: subscribed.interest.token)
        self.epoch = subscribed.catchUp.epoch
        self.deliveredSeq = subscribed.catchUp.lastSeq
        self.writtenSeq = subscribed.catchUp.lastSeq
        // The hub's copy of the name: thousands of subscribers then share one.
        let local = hub.add(self, to: self.channel)
        self.local = local
        self.channel = local.name
    }

    /// Leaves the hub and the engine, exactly once.
    func leave(_ loop: ServerLoop) {
        let phase = self.phase
        guard phase != .left else { return }
        self.phase = .left
        self.local = nil
        if self.hubSlot >= 0 { loop.hub.remove(self, from: self.channel) }
        if case .joined(let token) = phase {
            loop.engine.unsubscribe(
                Interest(channel: self.channel, hubIndex: loop.hub.index, token: token, member: self.member)
            )
        }
    }

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        self.stream.deliver(messages, on: self)
    }

    func finish(_ reason: FinishReason) {
        self.stream.finish(reason, on: self)
    }

    func presenceChanged(_ event: EncodedPresenceEvent) {
        guard self.wantsPresence, case .joined = self.phase, event.event.member != self.member else { return }
        self.stream.deliver(event, on: self)
    }
}

@available(*, unavailable)
extension ChannelSubscription: Sendable {}
