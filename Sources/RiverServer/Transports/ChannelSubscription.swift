import RiverCore

/// One channel of a `StreamSubscriber`, as its loop's hub sees it: the hub
/// offers it the channel's live messages, and it hands them to the
/// connection's subscriber, which writes every channel to one output.
///
/// Small on purpose (a parked subscription is what a server holds most of):
/// 80 bytes with the hub's fields (`Subscriber`), so 96 with malloc's — the
/// phase holds the name while subscribing and the hub's channel (which
/// holds the name, shared) and the engine's token once joined.
final class ChannelSubscription: Subscriber {
    enum Phase {
        case subscribing(ChannelName)
        /// In the hub (`local`, which holds the name) and registered with the engine under `token`.
        case joined(token: UInt64, local: LocalChannel)
        case left(ChannelName)
    }

    unowned let stream: StreamSubscriber
    private(set) var phase: Phase
    /// The last seq written to the output (a cursor says where the client stands).
    var writtenSeq: UInt64 = 0
    /// The channel incarnation followed (0: not known yet).
    private(set) var epoch: UInt64 = 0
    /// Who subscribed, for presence (nil: anonymous); it is not told of its own joins and leaves.
    let member: PresenceMember?

    init(_ start: ChannelStart, stream: StreamSubscriber) {
        self.phase = .subscribing(start.channel)
        self.member = start.member
        self.stream = stream
        super.init(wantsPresence: start.wantsPresence)
        stream.loop.lifetimeObserver?.track(self)
    }

    /// The channel (once joined, the hub's copy of its name: thousands of subscribers share one).
    var channel: ChannelName {
        switch self.phase {
        case .subscribing(let name), .left(let name): return name
        case .joined(_, let local): return local.name
        }
    }

    /// The hub's channel while joined: the stream takes its pending messages
    /// when another of its channels is visited.
    var local: LocalChannel? {
        if case .joined(_, let local) = self.phase { return local }
        return nil
    }

    var hasLeft: Bool {
        if case .left = self.phase { return true }
        return false
    }

    /// The engine registered the interest: join the hub, live after `catchUp.lastSeq`.
    func join(_ subscribed: SubscribeResult, hub: LoopHub) {
        self.epoch = subscribed.catchUp.epoch
        self.deliveredSeq = subscribed.catchUp.lastSeq
        // The client has what comes before the catch-up; each message written moves it on.
        self.writtenSeq = subscribed.catchUp.messages.first.map { max($0.seq, 1) - 1 } ?? subscribed.catchUp.lastSeq
        self.stream.cursorMoved()
        let local = hub.add(self, to: self.channel)
        self.phase = .joined(token: subscribed.interest.token, local: local)
    }

    /// Leaves the hub and the engine, exactly once.
    func leave(_ loop: ServerLoop) {
        let channel = self.channel
        switch self.phase {
        case .left:
            return
        case .subscribing:
            self.phase = .left(channel)
        case .joined(let token, _):
            self.phase = .left(channel)
            if self.hubSlot >= 0 { loop.hub.remove(self, from: channel) }
            loop.engine.unsubscribe(
                Interest(channel: channel, hubIndex: loop.hub.index, token: token, member: self.member)
            )
        }
    }

    override func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        self.stream.deliver(messages, on: self)
    }

    override func finish(_ reason: FinishReason) {
        self.stream.finish(reason, on: self)
    }

    override func presenceChanged(_ event: EncodedPresenceEvent) {
        guard case .joined = self.phase, event.event.member != self.member else { return }
        self.stream.deliver(event, on: self)
    }
}

@available(*, unavailable)
extension ChannelSubscription: Sendable {}
