import NIOCore
import NIOWebSocket
import RiverCore

/// A WebSocket connection after its handshake. Its `StreamSubscriber`
/// (WebSocket framing: river JSON or raw, compressed or not) carries the
/// channel to the client; each message the client sends is published to that
/// channel, as the original did — a binary one as a binary message.
///
/// It sits after NIOWebSocket's frame decoder, a `WebSocketFrameChecker`
/// (masking, RSV bits) and NIOWebSocket's fragment aggregator, so what it
/// reads is a whole message or a control frame. What each asks for, and the
/// RFC 6455 status that fails the connection, is its `StateMachine`'s call;
/// this handler inflates (bounded by `max_message_size`), publishes, answers
/// pings and closes. Pongs and everything else it writes share the
/// connection's output budget: while output is over its high-water mark it
/// reads no more frames. Until its subscription is in place (a round trip
/// to Redis, with that engine) its machine holds reads and keeps the frames
/// already read, so a message the client sends once connected reaches the
/// client's own subscription too. It gives back the connection's
/// `max_connections` slot when the connection closes, and keeps its context,
/// checker and inflater only while it is in the pipeline.
final class WebSocketConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection subscribes to: one channel (Part A), or whatever its commands say (`river.v2`).
    enum Subscriptions {
        case channel(ChannelName, ResumePoint, PresenceMember?)
        case commands(CommandSession)
    }

    var registryIndex = -1
    let subscriptions: Subscriptions
    let format: StreamFraming.WebSocketFormat
    let server: ServerContext
    unowned let loop: ServerLoop
    var machine: StateMachine
    var context: ChannelHandlerContext?
    /// Knows whether the message being read was compressed (the aggregator drops RSV1).
    private var checker: WebSocketFrameChecker?
    /// Made on the first compressed message; the client's context lives in it.
    private var inflater: PerMessageInflater?
    var subscriber: StreamSubscriber?
    /// `river.v2`: how many commands may come now.
    var rateLimit: CommandRateLimit?
    /// This connection's place under `max_connections`, handed on by the HTTP handler.
    private var slot: ConnectionSlot?
    private var pendingFlush = PendingFlush()
    /// The pongs of this read burst, one after another in one buffer, written at its end: a
    /// peer that pings and never reads costs the bytes of its pongs, not a pending write each.
    private var pongs: ByteBuffer?
    /// With `auth_url`: when each channel's decision is asked again.
    var renewals: [ChannelName: Scheduled<Void>] = [:]
    /// Part A with `auth_url`: who asks the application about each message.
    let consent: ApplicationConsent?
    /// Part A with `auth_url`: messages waiting for the application's answer, in the order sent.
    var awaitingConsent: [(payload: ByteBuffer, binary: Bool)] = []

    init(
        _ upgrade: WebSocketUpgrade,
        checker: WebSocketFrameChecker,
        slot: consuming ConnectionSlot?,
        server: ServerContext,
        loop: ServerLoop
    ) {
        let messages: StateMachine.Messages
        switch upgrade.mode {
        case .channel(let channel, let resume, let member, let mayPublish, let format, let consent):
            self.subscriptions = .channel(channel, resume, member)
            self.consent = consent
            self.format = StreamFraming.WebSocketFormat(
                raw: format == .raw,
                deflateWindowBits: upgrade.deflate.map { UInt8($0.serverWindowBits) }
            )
            messages = .publish(allowed: mayPublish)
        case .commands(let session):
            self.subscriptions = .commands(session)
            self.consent = nil
            self.format = StreamFraming.WebSocketFormat(
                deflateWindowBits: upgrade.deflate.map { UInt8($0.serverWindowBits) }
            )
            self.rateLimit = CommandRateLimit(
                perSecond: server.configuration.maxCommandsPerSecond,
                now: loop.eventLoop.now
            )
            messages = .commands
        }
        self.machine = StateMachine(maxMessageSize: server.configuration.maxMessageSize, messages: messages)
        self.checker = checker
        self.slot = slot
        self.server = server
        self.loop = loop
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.lifetimeObserver?.track(self)
        self.loop.counters.webSocketConnections += 1
        let subscriber = StreamSubscriber(framing: .webSocket(self.format), endsAfterFirstBatch: false, loop: self.loop)
        self.subscriber = subscriber
        switch self.subscriptions {
        case .channel(let channel, let resume, let member):
            subscriber.start([ChannelStart(channel, resume, member: member)], writingTo: self)
            self.loop.verified.add(context.channel, as: member)
            if let consent = self.consent { self.renew(channel, consent.asker, after: consent.subscribed) }
        case .commands:
            subscriber.endsChannelsAlone = true
            subscriber.start([], writingTo: self)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        let isData = frame.opcode == .text || frame.opcode == .binary
        let received = StateMachine.Frame(
            opcode: frame.opcode,
            payload: frame.unmaskedData,
            compressed: isData && (self.checker?.messageIsCompressed ?? false)
        )
        self.perform(self.machine.frameArrived(received, tick: self.loop.tick))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        switch self.machine.writabilityChanged(isWritable: context.channel.isWritable) {
        case .none: break
        case .resumeOutput:
            self.subscriber?.outputBecameWritable()
            self.perform(self.machine.resumeReading())
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        self.perform(self.machine.readRequested())
    }

    func perform(_ action: StateMachine.ReadAction) {
        switch action {
        case .read: self.context?.read()
        case .hold: break
        }
    }

    /// The subscription is in place (or over): the frames read meanwhile are
    /// handled in order — on the next turn of the loop, as the subscriber is
    /// still starting — and reading resumes.
    private func perform(_ action: StateMachine.SettledAction) {
        switch action {
        case .none:
            break
        case .resumeReading:
            self.context?.read()
        case .replayNextTurn(let frames):
            guard let eventLoop = self.context?.eventLoop else { return }
            let handler = NIOLoopBound(self, eventLoop: eventLoop)
            eventLoop.execute {
                let handler = handler.value
                for frame in frames {
                    handler.perform(handler.machine.received(frame, tick: handler.loop.tick))
                }
                handler.perform(handler.machine.replayed())
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.perform(self.machine.errorCaught(error, tick: self.loop.tick))
    }

    // MARK: - Performing the state machine's actions

    func perform(_ action: StateMachine.Action) {
        switch action {
        case .none:
            break
        case .inflate(let compressed, let binary):
            let inflated = self.inflate(compressed)
            self.perform(self.machine.inflated(inflated, binary: binary, tick: self.loop.tick))
        case .publish(let payload, let binary):
            if let consent = self.consent {
                self.publishOnceAllowed(payload, binary: binary, consent)
            } else {
                self.publish(payload, binary: binary)
            }
        case .command(let payload, let binary):
            self.carryOut(payload, binary: binary)
        case .pong(let payload):
            var pongs = self.pongs.take() ?? self.allocator.buffer(capacity: payload.readableBytes + 2)
            WebSocketFraming.writeHeader(opcode: .pong, length: payload.readableBytes, into: &pongs)
            pongs.writeImmutableBuffer(payload)
            self.pongs = pongs
            self.pendingFlush.wrote()
            self.flushSoon()
        case .close(let code, let reason):
            if WebSocketClose.isProtocolFailure(code) {
                self.recordCut(.protocolError, transport: "websocket", detail: "\(code) \(reason)")
            }
            self.sendClose(code: code, reason: reason, thenCloseSocket: false)
        case .answerClose(let code):
            if WebSocketClose.isProtocolFailure(code) {
                self.recordCut(.protocolError, transport: "websocket", detail: "\(code): bad close frame")
            }
            self.sendClose(code: code, reason: "", thenCloseSocket: true)
        case .closeSocket:
            self.context?.close(promise: nil)
        }
    }

    /// How far a compressed message may inflate: `max_message_size`, or for a
    /// command the frame limit (its data must still fit `max_message_size`).
    private var inflatedLimit: Int {
        let limit = self.server.configuration.maxMessageSize
        if case .commands = self.subscriptions { return 3 * limit + 4096 }
        return limit
    }

    /// A compressed message, inflated no further than `inflatedLimit`.
    private func inflate(_ compressed: ByteBuffer) -> Result<ByteBuffer, PerMessageInflater.Failure> {
        if self.inflater == nil { self.inflater = PerMessageInflater() }
        guard let inflater = self.inflater else { return .failure(.corrupt) }
        do {
            let message = try inflater.inflate(
                compressed,
                maxSize: self.inflatedLimit,
                allocator: self.allocator
            )
            return .success(message)
        } catch {
            return .failure(error)
        }
    }

    /// A message from the client is a publish to this connection's channel.
    func publish(_ message: ByteBuffer, binary: Bool) {
        guard let context = self.context, case .channel(let channel, _, _) = self.subscriptions else { return }
        // A buffer of its own: history must not pin the connection's read buffer.
        var payload = ByteBufferAllocator().buffer(capacity: message.readableBytes)
        payload.writeImmutableBuffer(message)
        self.loop.counters.publishes += 1
        self.loop.instruments?.notePublish(channel)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.server.engine.publish(payload, isBinary: binary, to: channel, on: context.eventLoop) { result in
            if case .failure(let error) = result { handler.value.reportPublishFailure(error, channel: channel) }
        }
    }

    /// `["error", {"channel": ..., "reason": ...}]`: the original's clients ignore types they do not know.
    private func reportPublishFailure(_ error: EngineError, channel: ChannelName) {
        guard case .open = self.machine.state else { return }
        var json = self.allocator.buffer(capacity: 96)
        json.writeStaticString("[\"error\", {\"channel\": ")
        JSONString.write(channel.value, into: &json)
        json.writeStaticString(", \"reason\": ")
        JSONString.write(error.description, into: &json)
        json.writeStaticString("}]")
        self.write(WebSocketFraming.frame(opcode: .text, payload: json, allocator: self.allocator))
        self.flush()
    }

    // MARK: - Closing

    /// Stops the subscription and sends a close frame; answering the peer's
    /// close, closes the socket once the answer is out.
    private func sendClose(code: UInt16, reason: String, thenCloseSocket: Bool) {
        guard let context = self.context else { return }
        self.subscriber?.detach()
        self.subscriber = nil
        self.writePongs()
        let frame = WebSocketFraming.closeFrame(code: code, reason: reason, allocator: context.channel.allocator)
        let written = context.writeAndFlush(self.wrapOutboundOut(frame))
        if thenCloseSocket {
            let channel = context.channel
            written.assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func connectionClosed() {
        switch self.machine.connectionClosed() {
        case .none:
            break
        case .cleanUp:
            self.loop.counters.webSocketConnections -= 1
            self.slot.take()?.release()
            self.subscriber?.detach()
            self.subscriber = nil
            self.checker = nil
            self.inflater = nil
            for renewal in self.renewals.values { renewal.cancel() }
            self.renewals = [:]
            self.awaitingConsent = []  // (an answer on its way keeps the handler, not these)
            self.pongs = nil
            self.loop.unregister(self)
        }
    }
}

// MARK: - The subscription's output

extension WebSocketConnectionHandler: StreamOutput {
    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }

    var isWritable: Bool { self.machine.isWritable && self.context != nil }

    func write(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(bytes), promise: nil)
        self.pendingFlush.wrote()
    }

    func flush() {
        self.writePongs()
        if self.pendingFlush.flushNow() { self.context?.flush() }
    }

    /// Writes the pongs gathered since the last flush, in one buffer.
    private func writePongs() {
        guard let pongs = self.pongs.take(), let context = self.context else { return }
        context.write(self.wrapOutboundOut(pongs), promise: nil)
    }

    func flushSoon() {
        if self.pendingFlush.burstEnded() { self.loop.flushAtEndOfTick(self) }
    }

    func recordCut(_ reason: CutReason, transport: String, detail: String) {
        self.loop.cuts.record(reason, peer: self.context?.channel.remoteAddress, transport: transport, detail: detail)
    }

    /// `river.v2`: a channel deleted or reset under the connection ends alone, and the client is told.
    func channelEnded(_ channel: ChannelName, reason: FinishReason) {
        let text = reason == .channelDeleted ? "channel deleted" : "channel reset: subscribe again to resume"
        self.reply(CommandReply.revoked(channel: channel, reason: text))
    }

    /// Writes a command's reply (a text frame of its JSON) and flushes.
    func reply(_ json: ByteBuffer) {
        guard case .open = self.machine.state else { return }
        self.write(WebSocketFraming.frame(opcode: .text, payload: json, allocator: self.allocator))
        self.flush()
    }

    func streamWillStart() {
        self.perform(self.machine.subscriptionSettled())
    }

    func streamDidEnd(_ end: StreamEnd) {
        self.subscriber = nil
        defer { self.perform(self.machine.subscriptionSettled()) }
        switch end {
        case .completed:
            // The framing wrote the close frame: wait for the peer's.
            self.perform(self.machine.streamEnded(tick: self.loop.tick))
            self.flush()
        case .cut:
            self.perform(self.machine.streamEnded(tick: self.loop.tick))
            self.context?.close(promise: nil)
        case .refused(let error):
            self.perform(
                self.machine.fail(
                    code: WebSocketClose.unexpectedServerError,
                    reason: error.reason,
                    tick: self.loop.tick
                )
            )
        }
    }
}

// MARK: - Timeouts and shutdown

extension WebSocketConnectionHandler: ManagedConnection {
    func flushQueuedWrites() {
        self.writePongs()
        if self.pendingFlush.queuedFlushDue() { self.context?.flush() }
    }

    func sweep(tick: UInt64) {
        switch self.machine.tick(tick) {
        case .none: break
        case .tickStream: self.subscriber?.tick(tick, self.loop.timeouts)
        case .closeSocket: self.context?.close(promise: nil)
        }
    }

    func quiesce() {
        switch self.machine.quiesce() {
        case .none: break
        case .finishStream: self.subscriber?.finish(.shutdown)
        }
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension WebSocketConnectionHandler: Sendable {}
