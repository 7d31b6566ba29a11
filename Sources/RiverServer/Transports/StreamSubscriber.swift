import DequeModule
import NIOCore
import RiverCore

/// One connection's subscription to one or more channels, whatever its
/// transport: HTTP streaming, long-poll, JSONP, Server-Sent Events or
/// WebSocket differ only in their `StreamFraming`. This class runs the
/// subscription's whole lifecycle, the one place it is written; what to do
/// at each step is its `StateMachine`'s call:
///
/// 1. the engine registers interest in each channel and answers its catch-up;
///    each `ChannelSubscription` joins its loop's hub at once (the engine's
///    ordering contract: nothing published after a catch-up reaches the hub
///    before it), and live messages wait until every channel answered;
/// 2. notices, then each channel's catch-up, then what waited are written as
///    the socket drains, so a reader that keeps up gets all of it;
/// 3. live messages are written as the hub offers them — one flush per
///    batch, and with several channels one flush per loop tick; while the
///    socket is busy they wait here (shared buffers, no copy), and a reader
///    whose waiting messages pass `max_subscriber_backlog` is cut;
/// 4. every channel leaves the hub and the engine exactly once, however it ends.
///
/// It is small while idle: what it has yet to write lives in a `Backlog`
/// made only while there is one.
final class StreamSubscriber {
    /// What a subscriber has yet to write, in order.
    final class Backlog {
        enum Segment {
            /// A notice, already framed.
            case bytes(ByteBuffer)
            /// A channel's catch-up messages not written yet.
            case catchUp(ChannelSubscription, ArraySlice<Message>)
            /// A live message accepted while the output was busy.
            case live(ChannelSubscription, EncodedMessage)
        }

        var segments: Deque<Segment> = []
        /// What waiting live messages are charged against `max_subscriber_backlog`.
        var waitingBytes = 0
    }

    // (Wide fields first, narrow ones packed at the end.)
    unowned let loop: ServerLoop
    private(set) var output: StreamOutput?
    var backlog: Backlog?
    let framing: StreamFraming
    /// The channels, in the order the request named them; usually one.
    var channels: [ChannelSubscription] = []
    /// Catch-ups answered by the engine, kept until every channel answered.
    private var pendingCatchUps: [ObjectIdentifier: CatchUp] = [:]
    /// Channels added to the running stream (`river.v2`), until the engine answers.
    var pendingAdditions: [ObjectIdentifier: ChannelAddition] = [:]
    /// `river.v2`: a channel deleted or reset ends that channel alone, not the stream.
    var endsChannelsAlone = false
    /// Whether it has left the hub and the engine (it does so once).
    private var hasLeft = false
    var machine: StateMachine
    /// Ticks (seconds) of the loop's clock, for `client_timeout` and `heartbeat`.
    let startTick: UInt32
    var lastWriteTick: UInt32

    init(framing: StreamFraming, endsAfterFirstBatch: Bool, loop: ServerLoop) {
        self.framing = framing
        self.machine = StateMachine(endsAfterFirstBatch: endsAfterFirstBatch)
        self.loop = loop
        self.startTick = UInt32(truncatingIfNeeded: loop.tick)
        self.lastWriteTick = self.startTick
    }

    /// Subscribes to each channel at its start; from now on the subscriber
    /// writes to `output` until it ends or is detached.
    func start(_ starts: [ChannelStart], writingTo output: StreamOutput) {
        self.output = output
        self.adjustOpenCount(by: 1)
        self.loop.lifetimeObserver?.track(self)
        self.channels = starts.map { ChannelSubscription($0, stream: self) }
        // Every channel is counted before the first answers (an answer may come at once).
        self.machine.subscribing(channels: starts.count)
        if starts.isEmpty {
            self.begin(last: nil, CatchUp(lastSeq: 0))
            return
        }
        for (subscription, start) in zip(self.channels, starts) {
            self.subscribe(subscription, from: start)
        }
    }

    func subscribe(_ subscription: ChannelSubscription, from start: ChannelStart) {
        self.loop.engine.subscribe(
            to: start.channel,
            from: start.resume,
            hubIndex: self.loop.hub.index,
            member: start.member
        ).assumeIsolated()
            .whenComplete { result in self.subscribed(subscription, result) }
    }

    private func subscribed(_ subscription: ChannelSubscription, _ result: Result<SubscribeResult, Error>) {
        let addition = self.pendingAdditions.removeValue(forKey: ObjectIdentifier(subscription))
        switch result {
        case .failure(let error):
            switch self.machine.channelFailed() {
            case .none: break
            case .refuse:
                self.stop(.refused(.engineFailure(error, doing: "cannot subscribe to \(subscription.channel)")))
            case .report:
                self.drop(subscription)
                addition?.failed(
                    RequestError.engineFailure(error, doing: "cannot subscribe to \(subscription.channel)").reason
                )
            }
        case .success(let subscribed):
            // (Unsubscribed before the engine answered: withdraw at once.)
            let action =
                subscription.hasLeft
                ? .release : self.machine.channelSubscribed(hasCatchUp: !subscribed.catchUp.isEmpty)
            switch action {
            case .release:
                self.loop.engine.unsubscribe(subscribed.interest)
            case .joinAndWrite:
                subscription.join(subscribed, hub: self.loop.hub)
                self.writeAddition(
                    subscription,
                    subscribed.catchUp,
                    acknowledgement: addition?.acknowledgement(subscribed.catchUp)
                )
            case .join:
                subscription.join(subscribed, hub: self.loop.hub)
                self.pendingCatchUps[ObjectIdentifier(subscription)] = subscribed.catchUp
            case .joinAndBegin:
                subscription.join(subscribed, hub: self.loop.hub)
                self.begin(last: subscription, subscribed.catchUp)
            }
        }
    }

    /// Every channel answered (`last` just now, with its catch-up; the others
    /// are kept until now): the head, then the catch-ups, then what waited.
    private func begin(last: ChannelSubscription?, _ lastCatchUp: CatchUp) {
        guard let output = self.output else { return }
        let waiting = self.backlog?.segments ?? []
        self.backlog = nil
        var catchUps = self.pendingCatchUps
        self.pendingCatchUps = [:]
        if let last { catchUps[ObjectIdentifier(last)] = lastCatchUp }
        switch self.machine.begin(hasWaiting: !waiting.isEmpty) {
        case .writeCatchUp(let keepWaiting):
            output.streamWillStart()
            let backlog = Backlog()
            for subscription in self.channels {
                guard let catchUp = catchUps[ObjectIdentifier(subscription)] else { continue }
                self.count(catchUp)
                for notice in catchUp.notices {
                    self.framing.write(notice, channel: subscription.channel, to: output)
                }
                if !catchUp.messages.isEmpty {
                    backlog.segments.append(.catchUp(subscription, catchUp.messages[...]))
                }
            }
            if keepWaiting {
                for segment in waiting {
                    backlog.segments.append(segment)
                    if case .live(_, let message) = segment { backlog.waitingBytes += Self.estimatedSize(of: message) }
                }
            }
            if !backlog.segments.isEmpty { self.backlog = backlog }
            self.writeWhileWritable()
        case .answerWithFirstWaiting:
            output.streamWillStart()
            if case .live(let subscription, let message) = waiting.first {
                self.write(message, on: subscription, to: output)
            }
            self.finishStream(nil)
        case .awaitLive:
            output.streamWillStart()
            output.flush()
        }
    }

    // MARK: - Delivery

    /// The hub offers `messages` of `subscription`'s channel (all newer than its `deliveredSeq`).
    func deliver(_ messages: ArraySlice<EncodedMessage>, on subscription: ChannelSubscription) -> DeliveryCount {
        guard let output = self.output else { return .none }
        let action = self.machine.batchOffered(backlogIsEmpty: self.backlog == nil, isWritable: output.isWritable)
        switch action {
        case .ignore:
            return .none
        case .writeFirstAndEnd:
            guard let first = messages.first(where: { $0.seq > subscription.deliveredSeq }) else { return .none }
            subscription.deliveredSeq = first.seq
            let bytes = self.write(first, on: subscription, to: output)
            self.finishStream(nil)
            return DeliveryCount(messages: 1, bytes: bytes)
        case .write:
            var count = self.write(messages, on: subscription, to: output)
            if self.channels.count > 1 { count.add(self.writePendingOfOtherChannels(than: subscription, to: output)) }
            if count.messages > 0 {
                self.lastWriteTick = UInt32(truncatingIfNeeded: self.loop.tick)
                self.flushDelivery(output)
            }
            return count
        case .queue:
            let backlog = self.backlog ?? Backlog()
            self.backlog = backlog
            for message in messages where message.seq > subscription.deliveredSeq {
                subscription.deliveredSeq = message.seq
                backlog.segments.append(.live(subscription, message))
                backlog.waitingBytes += Self.estimatedSize(of: message)
            }
            if backlog.waitingBytes > self.loop.configuration.maxSubscriberBacklog {
                self.finish(.slowConsumer)
            }
            return .none
        }
    }

    /// Writes the offered messages newer than what `subscription` has delivered.
    private func write(
        _ messages: ArraySlice<EncodedMessage>,
        on subscription: ChannelSubscription,
        to output: StreamOutput
    ) -> DeliveryCount {
        var count = DeliveryCount()
        for message in messages where message.seq > subscription.deliveredSeq {
            subscription.deliveredSeq = message.seq
            count.bytes += self.write(message, on: subscription, to: output)
            count.messages += 1
        }
        return count
    }

    /// With several channels, a visit for one also writes what the hub holds for
    /// the others: when publishes to many channels arrive together, a connection
    /// carrying them all gets them in one write, not one per channel's round
    /// (those rounds then find nothing new for it).
    private func writePendingOfOtherChannels(
        than visited: ChannelSubscription,
        to output: StreamOutput
    ) -> DeliveryCount {
        var count = DeliveryCount()
        var index = 0
        while index < self.channels.count, self.output != nil {
            let subscription = self.channels[index]
            index += 1
            guard subscription !== visited, let local = subscription.local,
                local.newestSeq > subscription.deliveredSeq
            else { continue }
            count.add(self.write(local.pending(after: subscription.deliveredSeq), on: subscription, to: output))
        }
        return count
    }

    /// Its transport as an operator reads it: `stream`, `long-poll`, `jsonp`, `sse`, `websocket`.
    var transportName: String {
        if self.machine.endsAfterFirstBatch { return "long-poll" }
        return self.framing.transportName
    }

    /// One channel flushes at once; several flush once per loop tick, so the
    /// deliveries of all their channels in a tick leave in one write.
    func flushDelivery(_ output: StreamOutput) {
        if self.channels.count == 1 { output.flush() } else { output.flushSoon() }
    }

    /// Writes one message of `subscription`'s channel; returns the bytes written.
    @discardableResult
    func write(
        _ message: EncodedMessage,
        on subscription: ChannelSubscription,
        to output: StreamOutput
    )
        -> Int
    {
        subscription.writtenSeq = message.seq
        guard case .eventStreamOfChannels(let cursor) = self.framing else {
            return self.framing.write(message, to: output)
        }
        let idLine = cursor.line(after: subscription, of: self.channels, allocator: output.allocator)
        return self.framing.write(message, idLine: idLine, to: output)
    }

    /// A channel's seq or epoch was set other than by a write, the set of
    /// channels changed, or the stream went quiet: a cursor line is rendered anew.
    func cursorMoved() {
        if case .eventStreamOfChannels(let cursor) = self.framing { cursor.invalidate() }
    }

    /// The connection drained below its low-water mark: write what waits.
    func outputBecameWritable() {
        switch self.machine.outputWritable() {
        case .writeBacklog: self.writeWhileWritable()
        case .none: break
        }
    }

    /// Writes notices, catch-ups, then waiting live messages, while the output
    /// takes them; a drained catch-up goes live, or ends a long-poll.
    func writeWhileWritable() {
        guard let output = self.output else { return }
        if let backlog = self.backlog {
            var written = DeliveryCount()
            while output.isWritable, let segment = backlog.segments.first {
                switch segment {
                case .bytes(let bytes):
                    backlog.segments.removeFirst()
                    output.write(bytes)
                    continue
                case .catchUp(let subscription, var messages):
                    let message = messages.removeFirst()
                    if messages.isEmpty {
                        backlog.segments.removeFirst()
                    } else {
                        backlog.segments[0] = .catchUp(subscription, messages)
                    }
                    let encoded = EncodedMessage(message, allocator: output.allocator, deflater: self.loop.hub.deflater)
                    written.bytes += self.write(encoded, on: subscription, to: output)
                case .live(let subscription, let message):
                    backlog.segments.removeFirst()
                    backlog.waitingBytes -= Self.estimatedSize(of: message)
                    written.bytes += self.write(message, on: subscription, to: output)
                }
                written.messages += 1
                if self.machine.endsAfterFirstBatch && self.framing.answersWithOneMessage {
                    backlog.segments.removeAll()  // the rest waits for the next poll
                    break
                }
            }
            if backlog.segments.isEmpty { self.backlog = nil }
            self.loop.hub.noteDelivered(written)
            self.lastWriteTick = UInt32(truncatingIfNeeded: self.loop.tick)
        }
        guard self.backlog == nil else {
            output.flush()
            return
        }
        switch self.machine.backlogDrained() {
        case .end: self.finishStream(nil)
        case .goLive, .none: output.flush()
        }
    }

    /// What a waiting message is charged against the backlog: its payload and framing.
    static func estimatedSize(of message: EncodedMessage) -> Int {
        message.message.payload.readableBytes + message.message.channel.value.utf8.count + 64
    }

    // MARK: - Ending

    /// Ends the subscription from the server's side (a channel deleted or
    /// reset, shutdown, `client_timeout`, a slow consumer): the whole stream ends.
    func finish(_ reason: FinishReason) {
        self.perform(self.machine.finish(reason))
    }

    /// The hub ends `subscription`'s channel: a `river.v2` stream loses that
    /// channel alone when it was deleted or reset; any other stream ends.
    func finish(_ reason: FinishReason, on subscription: ChannelSubscription) {
        guard self.endsChannelsAlone, reason == .channelDeleted || reason == .channelReset else {
            return self.finish(reason)
        }
        guard self.drop(subscription) else { return }
        self.output?.channelEnded(subscription.channel, reason: reason)
    }

    /// Ends the stream cleanly: its response is complete (a long-poll's answer).
    func finishStream(_ reason: FinishReason?) {
        self.perform(self.machine.finish(reason))
    }

    private func perform(_ action: StateMachine.FinishAction) {
        guard let output = self.output else { return }
        switch action {
        case .none:
            break
        case .refuse:
            self.stop(.refused(.unavailable("server is shutting down")))
        case .cut:
            self.loop.counters.slowConsumersCut += 1
            output.recordCut(.slowConsumer, transport: self.transportName, detail: "")
            self.stop(.cut)
        case .end(let reason):
            self.leave()
            let reusable = self.framing.writeEnd(reason, to: output)
            self.stop(.completed(reusable: reusable && reason == nil))
        }
    }

    /// Hands the connection back to its output, and lets go of it.
    private func stop(_ end: StreamEnd) {
        guard let output = self.output else { return }
        self.leave()
        self.output = nil
        output.streamDidEnd(end)
    }

    /// The connection closed: leave at once, write nothing more.
    func detach() {
        switch self.machine.detach() {
        case .leave: self.leave()
        case .none: break
        }
        self.output = nil
    }

    /// Leaves the hub and the engine on every channel, and is counted out, exactly once.
    private func leave() {
        guard !self.hasLeft else { return }
        self.hasLeft = true
        let channels = self.channels
        self.channels = []
        self.backlog = nil
        self.pendingCatchUps = [:]
        self.pendingAdditions = [:]
        self.adjustOpenCount(by: -1)
        for subscription in channels {
            subscription.leave(self.loop)
        }
    }

    /// Keeps `/stats`' open streams by transport.
    private func adjustOpenCount(by delta: Int) {
        switch self.framing {
        case .eventStream, .eventStreamOfChannels: self.loop.counters.openEventStreams += delta
        case .river where self.machine.endsAfterFirstBatch, .raw where self.machine.endsAfterFirstBatch:
            self.loop.counters.openLongPolls += delta
        case .river, .raw: self.loop.counters.openStreams += delta
        case .webSocket: break  // counted as WebSocket connections
        }
    }
}

@available(*, unavailable)
extension StreamSubscriber: Sendable {}
