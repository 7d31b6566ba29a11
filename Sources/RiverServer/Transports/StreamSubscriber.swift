import NIOCore
import RiverCore

/// One subscribed connection, whatever its transport: HTTP streaming,
/// long-poll, JSONP, Server-Sent Events or WebSocket differ only in their
/// `StreamFraming`. This class runs the subscription's whole lifecycle, the
/// one place it is written:
///
/// 1. the engine registers interest and answers the catch-up;
/// 2. the subscriber joins its loop's hub at once (the engine's ordering
///    contract: nothing published after the catch-up reaches the hub before it);
/// 3. notices, then the catch-up, are written as the socket drains, so a
///    reader that keeps up gets all of it whatever its size;
/// 4. live messages are written as the hub offers them; while the socket is
///    busy they wait here (shared buffers, no copy), and a reader whose
///    waiting messages pass `max_subscriber_backlog` is cut;
/// 5. it leaves the hub and the engine exactly once, however it ends.
///
/// It is small while idle (a parked stream is what a server holds most of):
/// what it has yet to write lives in a `Backlog` made only while there is one.
final class StreamSubscriber: Subscriber {
    private enum State {
        case subscribing
        /// Joined the hub and the engine (`token`); the catch-up is still being written.
        case catchingUp(token: UInt64)
        case live(token: UInt64)
        case ended
    }

    /// What a subscriber has yet to write.
    private final class Backlog {
        /// Catch-up messages not written yet, in order.
        var catchUp: ArraySlice<Message>
        /// Live messages accepted while the output was busy, not written yet.
        var waiting: ArraySlice<EncodedMessage> = []
        /// What `waiting` is charged against `max_subscriber_backlog`.
        var waitingBytes = 0

        init(catchUp: ArraySlice<Message>) { self.catchUp = catchUp }

        var isEmpty: Bool { self.catchUp.isEmpty && self.waiting.isEmpty }
    }

    // (Wide fields first, narrow ones packed behind the state: 120 bytes, one
    // malloc size class below what declaration order alone gives.)
    /// The last seq written or accepted for writing: the hub offers only what comes after.
    private(set) var deliveredSeq: UInt64 = 0
    private(set) var channel: ChannelName
    private unowned let loop: LoopContext
    private var output: SubscriberOutput?
    private var backlog: Backlog?
    private let framing: StreamFraming
    private var state = State.subscribing
    /// Long-poll (`keep=0`): the stream ends after its first message, or after its catch-up.
    private let endsAfterFirstBatch: Bool
    private var slot: Int32 = -1
    /// Ticks (seconds) of the loop's clock, for `client_timeout` and `heartbeat`.
    private let startTick: UInt32
    private var lastWriteTick: UInt32

    /// Its position in its hub's list (`LoopHub` keeps it).
    var hubSlot: Int {
        get { Int(self.slot) }
        set { self.slot = Int32(truncatingIfNeeded: newValue) }
    }

    init(channel: ChannelName, framing: StreamFraming, endsAfterFirstBatch: Bool, loop: LoopContext) {
        self.channel = channel
        self.framing = framing
        self.endsAfterFirstBatch = endsAfterFirstBatch
        self.loop = loop
        self.startTick = UInt32(truncatingIfNeeded: loop.tick)
        self.lastWriteTick = self.startTick
    }

    /// Subscribes at `resume`; from now on the subscriber writes to `output` until it ends or is detached.
    func start(from resume: ResumePoint, writingTo output: SubscriberOutput) {
        self.output = output
        self.adjustOpenCount(by: 1)
        self.loop.lifetimeObserver?.track(self)
        self.loop.engine.subscribe(to: self.channel, from: resume, hubIndex: self.loop.hub.index)
            .assumeIsolated()
            .whenComplete { result in self.subscribed(result) }
    }

    private func subscribed(_ result: Result<Subscribed, Error>) {
        guard case .subscribing = self.state, let output = self.output else {
            if case .success(let subscribed) = result { self.loop.engine.unsubscribe(subscribed.subscription) }
            return
        }
        switch result {
        case .failure(let error):
            self.stop(.refused(.unavailable("cannot subscribe: \(error)")))
        case .success(let subscribed):
            let catchUp = subscribed.catchUp
            let token = subscribed.subscription.token
            self.deliveredSeq = catchUp.lastSeq
            // A long-poll with nothing to catch up on waits for its first live message.
            self.state = self.endsAfterFirstBatch && catchUp.isEmpty ? .live(token: token) : .catchingUp(token: token)
            self.channel = self.loop.hub.add(self, to: self.channel)
            output.streamWillStart()
            for notice in catchUp.notices {
                self.framing.write(notice, channel: self.channel, to: output)
            }
            if !catchUp.messages.isEmpty { self.backlog = Backlog(catchUp: catchUp.messages[...]) }
            self.writeWhileWritable()
        }
    }

    // MARK: - Delivery

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        guard let output = self.output else { return .none }
        let isLive: Bool
        switch self.state {
        case .live where self.endsAfterFirstBatch:
            guard let first = messages.first(where: { $0.seq > self.deliveredSeq }) else { return .none }
            self.deliveredSeq = first.seq
            let bytes = self.framing.write(first, to: output)
            self.finishStream(nil)
            return DeliveryCount(messages: 1, bytes: bytes)
        case .catchingUp where self.endsAfterFirstBatch:
            return .none  // the catch-up is this long-poll's answer
        case .live: isLive = true
        case .catchingUp: isLive = false
        case .subscribing, .ended: return .none
        }
        var count = DeliveryCount()
        if isLive && self.backlog == nil && output.isWritable {
            for message in messages where message.seq > self.deliveredSeq {
                self.deliveredSeq = message.seq
                count.bytes += self.framing.write(message, to: output)
                count.messages += 1
            }
            if count.messages > 0 {
                self.lastWriteTick = UInt32(truncatingIfNeeded: self.loop.tick)
                output.flush()
            }
            return count
        }
        let backlog = self.backlog ?? Backlog(catchUp: [])
        self.backlog = backlog
        for message in messages where message.seq > self.deliveredSeq {
            self.deliveredSeq = message.seq
            backlog.waiting.append(message)
            backlog.waitingBytes += Self.estimatedSize(of: message)
        }
        if backlog.waitingBytes > self.loop.configuration.maxSubscriberBacklog {
            self.finish(.slowConsumer)
        }
        return count
    }

    /// The connection drained below its low-water mark: write what waits.
    func outputBecameWritable() {
        switch self.state {
        case .catchingUp, .live: self.writeWhileWritable()
        case .subscribing, .ended: break
        }
    }

    /// Writes the catch-up, then waiting live messages, while the output takes
    /// them; a drained catch-up goes live, or ends a long-poll.
    private func writeWhileWritable() {
        guard let output = self.output else { return }
        if let backlog = self.backlog {
            var written = DeliveryCount()
            while output.isWritable {
                if let message = backlog.catchUp.popFirst() {
                    let encoded = EncodedMessage(
                        message,
                        allocator: output.allocator,
                        deflater: self.loop.hub.deflater
                    )
                    written.bytes += self.framing.write(encoded, to: output)
                } else if let message = backlog.waiting.popFirst() {
                    backlog.waitingBytes -= Self.estimatedSize(of: message)
                    written.bytes += self.framing.write(message, to: output)
                } else {
                    break
                }
                written.messages += 1
                if self.endsAfterFirstBatch && self.framing.answersWithOneMessage {
                    backlog.catchUp = []  // the rest waits for the next poll
                    break
                }
            }
            if backlog.isEmpty { self.backlog = nil }
            self.loop.hub.noteDelivered(written)
            self.lastWriteTick = UInt32(truncatingIfNeeded: self.loop.tick)
        }
        guard case .catchingUp(let token) = self.state, self.backlog?.catchUp.isEmpty ?? true else {
            output.flush()
            return
        }
        if self.endsAfterFirstBatch {
            self.finishStream(nil)  // the catch-up was this long-poll's answer
        } else {
            self.state = .live(token: token)
            output.flush()
        }
    }

    /// What a waiting message is charged against the backlog: its payload and framing.
    private static func estimatedSize(of message: EncodedMessage) -> Int {
        message.message.payload.readableBytes + message.message.channel.value.utf8.count + 64
    }

    // MARK: - Ending

    func finish(_ reason: FinishReason) {
        switch self.state {
        case .ended:
            return
        case .subscribing:
            self.stop(.refused(.unavailable("server is shutting down")))
        case .catchingUp, .live:
            if reason == .slowConsumer {
                self.loop.counters.slowConsumersCut += 1
                self.stop(.cut)
            } else {
                self.finishStream(reason)
            }
        }
    }

    /// Ends the stream cleanly for `reason` (nil: it is complete): its last
    /// chunk or close frame. Only a complete response (a long-poll's answer)
    /// leaves the connection to carry another request; the server's reasons close it.
    private func finishStream(_ reason: FinishReason?) {
        guard let output = self.output else { return }
        self.leave()
        let reusable = self.framing.writeEnd(reason, to: output)
        self.stop(.completed(reusable: reusable && reason == nil))
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
        self.leave()
        self.output = nil
    }

    /// Leaves the hub and the engine, and is counted out, exactly once.
    private func leave() {
        let token: UInt64?
        switch self.state {
        case .ended: return
        case .subscribing: token = nil
        case .catchingUp(let joined), .live(let joined): token = joined
        }
        self.state = .ended
        self.backlog = nil
        self.adjustOpenCount(by: -1)
        if self.hubSlot >= 0 {
            self.loop.hub.remove(self, from: self.channel)
        }
        if let token {
            self.loop.engine.unsubscribe(Subscription(channel: self.channel, hubIndex: self.loop.hub.index, token: token))
        }
    }

    // MARK: - Time

    /// Once a second: ends the stream after `client_timeout`, and writes the
    /// framing's heartbeat when the stream was quiet for `heartbeat`.
    func tick(_ tick: UInt64, _ timeouts: ConnectionTimeouts) {
        guard case .live = self.state, let output = self.output else { return }
        let now = UInt32(truncatingIfNeeded: tick)
        if let timeout = timeouts.clientTicks, UInt64(now &- self.startTick) >= timeout {
            self.finish(.timeout)
            return
        }
        if let interval = timeouts.heartbeatTicks, UInt64(now &- self.lastWriteTick) >= interval, output.isWritable,
            let heartbeat = self.framing.heartbeat
        {
            self.lastWriteTick = now
            output.write(heartbeat)
            output.flush()
        }
    }

    /// Keeps `/stats`' open streams by transport.
    private func adjustOpenCount(by delta: Int) {
        switch self.framing {
        case .eventStream: self.loop.counters.openEventStreams += delta
        case .river where self.endsAfterFirstBatch, .raw where self.endsAfterFirstBatch:
            self.loop.counters.openLongPolls += delta
        case .river, .raw: self.loop.counters.openStreams += delta
        case .webSocket: break  // counted as WebSocket connections
        }
    }
}

@available(*, unavailable)
extension StreamSubscriber: Sendable {}
