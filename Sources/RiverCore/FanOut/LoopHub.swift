import DequeModule
import NIOCore

/// One per event loop: which local subscribers listen to which channel, and
/// the delivery of live batches to them.
///
/// Engines hand it a `DeliveryBatch` in one hop. Each message is encoded once
/// (lazily, per wire format); then delivery runs in rounds per channel (see
/// `LocalChannel`), `sliceDuration` at a time, yielding to I/O
/// between slices. New publishes read meanwhile join the round in progress,
/// so under load each subscriber's write carries many messages — one
/// `writev` for many messages instead of one per message — while a lone
/// message to a few subscribers still goes out at once.
public final class LoopHub {
    public let eventLoop: EventLoop
    /// The hub's position in its `FanOut`, which engines use to address it.
    public let index: Int
    /// The longest gap between the end of a channel's round and the start of
    /// its next (the gap is the previous round's duration, capped by this).
    public let maxRoundGap: TimeAmount
    /// How long a slice of deliveries may run before yielding to I/O.
    public let sliceDuration: TimeAmount
    private var channels: [ChannelName: LocalChannel] = [:]
    private var running: Deque<LocalChannel> = []
    /// When the next slice is due; a callback finding a later (or no) deadline is stale.
    private var nextSliceAt: NIODeadline?
    /// The hub's own pacing, as each channel's (`LocalChannel`) but over every
    /// channel: when publishes to many channels keep arriving while rounds run,
    /// the next rounds wait as long as the last busy period took (capped), so a
    /// connection carrying many of those channels gets them in one write.
    private var pacing = RoundPacing()
    private let allocator = ByteBufferAllocator()
    /// Compresses each message once for this loop's permessage-deflate WebSockets.
    public let deflater: PerMessageDeflater
    /// Everything delivered from this loop so far.
    public private(set) var delivered = DeliveryCount()
    /// Subscribers currently registered on this loop.
    public private(set) var subscriberCount = 0
    /// Delivery latency and the largest channels, when the dashboard is on (nil: nothing is measured).
    public var instruments: HubInstruments?
    /// What the server on this loop does with another node's order (`Engine.tellOtherNodes`):
    /// carries it out and says how many connections it ended. Orders that come before the
    /// server's loop exists (the engine starts first) wait for it, then are carried out.
    public var ordersTaker: ((NodeOrder) -> Int)? {
        didSet {
            guard let take = self.ordersTaker else { return }
            let waiting = self.waitingOrders
            self.waitingOrders = []
            for order in waiting { _ = take(order) }
        }
    }
    /// Orders that came before `ordersTaker` was set (a revocation read at start-up).
    private var waitingOrders: [NodeOrder] = []

    public init(
        eventLoop: EventLoop,
        index: Int,
        maxRoundGap: TimeAmount = .milliseconds(1),
        sliceDuration: TimeAmount = .microseconds(500),
        compressionLevel: Int = PerMessageDeflater.defaultLevel
    ) {
        self.deflater = PerMessageDeflater(level: compressionLevel)
        self.eventLoop = eventLoop
        self.index = index
        self.maxRoundGap = maxRoundGap
        self.sliceDuration = sliceDuration
    }

    /// Registers a subscriber; from now on it receives the channel's live
    /// messages. Returns the hub's channel, whose name the subscriber may keep
    /// instead of its own (thousands of subscribers then share one) and whose
    /// pending messages it may take early (`LocalChannel.pending(after:)`).
    @discardableResult
    public func add(_ subscriber: Subscriber, to channel: ChannelName) -> LocalChannel {
        let local: LocalChannel
        if let existing = self.channels[channel] {
            local = existing
        } else {
            local = LocalChannel(name: channel, hub: self)
            self.channels[channel] = local
        }
        local.add(subscriber)
        self.subscriberCount += 1
        self.instruments?.subscribersChanged(local.name, count: local.members.count)
        return local
    }

    /// Unregisters a subscriber (a no-op when it is not registered).
    public func remove(_ subscriber: Subscriber, from channel: ChannelName) {
        guard let local = self.channels[channel], local.remove(subscriber) else { return }
        self.subscriberCount -= 1
        self.instruments?.subscribersChanged(local.name, count: local.members.count)
        if local.members.isEmpty && local.isIdle {
            self.channels[channel] = nil
        }
    }

    /// Counts what a subscriber wrote outside a delivery round: its catch-up,
    /// and live messages that waited for its socket to drain.
    public func noteDelivered(_ count: DeliveryCount) {
        self.delivered.add(count)
    }

    /// The number of local subscribers of a channel.
    public func subscriberCount(of channel: ChannelName) -> Int {
        self.channels[channel]?.members.count ?? 0
    }

    /// Queues a batch for delivery and delivers the first slice now.
    public func deliver(_ batch: DeliveryBatch) {
        for entry in batch.entries {
            guard let local = self.channels[entry.channel], !local.members.isEmpty else { continue }
            for message in entry.messages {
                local.append(EncodedMessage(message, allocator: self.allocator, deflater: self.deflater))
            }
            self.pacing.messagesArrived(entry.messages.count)
            self.startRound(local)
        }
        self.runSlice()
    }

    /// Starts a round for `local` now, or once the gap after its previous round
    /// (or the hub's busy period) is over. A channel that has waited starts
    /// then, whatever gap a busy period since has set: the channels waiting for
    /// the same gap start together, never one gap after another.
    func startRound(_ local: LocalChannel, hasWaited: Bool = false) {
        guard local.isIdle, let last = local.pending.last else { return }
        let now = self.eventLoop.now
        let due = hasWaited ? local.nextRoundAt : max(local.nextRoundAt, self.pacing.nextRoundsAt)
        if now < due {
            local.state = .waiting
            _ = try? self.eventLoop.assumeIsolated().scheduleCallback(at: due, handler: local)
            return
        }
        local.state = .running(position: 0, upTo: last.seq)
        local.roundStartedAt = now
        self.running.append(local)
        self.pacing.roundsStarted(at: now)
    }

    /// Visits subscribers for up to `sliceDuration`, channel by channel, then
    /// schedules the rest after the next I/O poll. The clock is read once per
    /// 16 visits.
    func runSlice() {
        self.nextSliceAt = nil
        let deadline = self.eventLoop.now + self.sliceDuration
        var budget = 16
        while let local = self.running.first {
            guard case .running(var position, let upTo) = local.state else {
                self.running.removeFirst()
                continue
            }
            while position < local.members.count {
                if budget == 0 {
                    if self.eventLoop.now >= deadline { break }
                    budget = 16
                }
                let member = local.members[position]
                position += 1
                budget -= 1
                let offered = local.pending(after: member.deliveredSeq)
                guard !offered.isEmpty else { continue }
                // Delivery may close the connection, which removes the member: record
                // our position first so the removal keeps the partition right.
                local.state = .running(position: position, upTo: upTo)
                let count = member.deliver(offered)
                self.delivered.add(count)
                guard case .running(let current, _) = local.state else { break }
                position = current
            }
            if position < local.members.count {
                local.state = .running(position: position, upTo: upTo)
                break
            }
            self.finishRound(local, upTo: upTo)
        }
        if self.running.isEmpty {
            self.pacing.roundsEnded(at: self.eventLoop.now, maxGap: self.maxRoundGap)
        } else {
            self.scheduleSlice()
        }
    }

    private func finishRound(_ local: LocalChannel, upTo: UInt64) {
        self.running.removeFirst()
        let now = self.eventLoop.now
        if let instruments = self.instruments, let oldest = local.pending.first {
            instruments.roundFinished(oldestPublishedAt: oldest.message.publishedAt, at: now)
        }
        local.dropDelivered(upTo: upTo)

        // When messages arrive faster than rounds complete, pause as long as the
        // round took (capped): what arrives meanwhile shares the next round's
        // writes, and delivery takes at most about half the loop. Otherwise the
        // next message goes out at once.
        local.noteArrivalsDuringRound(local.pending.count)
        let gap = local.isOverloaded ? min(now - local.roundStartedAt, self.maxRoundGap) : .zero
        local.nextRoundAt = now + gap
        local.state = .idle
        if local.members.isEmpty {
            if self.channels[local.name] === local { self.channels[local.name] = nil }
        } else if !local.pending.isEmpty {
            // Messages arrived during the round; those visited early still need them.
            self.startRound(local)
        }
    }

    /// The rest of the work runs after the loop has polled its sockets again.
    ///
    /// The small delay matters: NIO keeps running tasks that are due before it
    /// polls again, and a callback due "now" is due by the time it looks, so
    /// the whole round would run as one tick and no publish could join it.
    private func scheduleSlice() {
        guard self.nextSliceAt == nil else { return }
        let deadline = self.eventLoop.now + Self.yieldDelay
        self.nextSliceAt = deadline
        _ = try? self.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
    }

    private static let yieldDelay = TimeAmount.microseconds(20)

    /// Hands a presence event to every local subscriber of its channel that
    /// asked for presence; the JSON is built once.
    public func deliver(_ event: PresenceEvent) {
        guard let local = self.channels[event.channel], !local.members.isEmpty else { return }
        let encoded = EncodedPresenceEvent(event)
        // (A delivery may close a connection, which removes a member: iterate a copy.)
        for member in local.members where member.wantsPresence {
            member.presenceChanged(encoded)
        }
    }

    /// Ends every local subscription to a channel.
    public func finish(channel: ChannelName, reason: FinishReason) {
        guard let members = self.channels[channel]?.members else { return }
        for subscriber in members {
            subscriber.finish(reason)
        }
    }

    /// Ends every local subscription (shutdown).
    public func finishAll(reason: FinishReason) {
        let locals = Array(self.channels.values)
        for local in locals {
            for subscriber in local.members {
                subscriber.finish(reason)
            }
        }
    }
}

extension LoopHub: NIOScheduledCallbackHandler {
    public func handleScheduledCallback(eventLoop: some EventLoop) {
        // A slice may have run since this was scheduled (a new batch runs one at once).
        guard let due = self.nextSliceAt, self.eventLoop.now >= due else { return }
        self.runSlice()
    }
}

@available(*, unavailable)
extension LoopHub: Sendable {}

extension LoopHub {
    /// Carries out another node's order on this loop (or keeps it until the server's loop
    /// takes orders); how many connections it ended.
    public func carryOut(_ order: NodeOrder) -> Int {
        guard let take = self.ordersTaker else {
            self.waitingOrders.append(order)
            return 0
        }
        return take(order)
    }
}
