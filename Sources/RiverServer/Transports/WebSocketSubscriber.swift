import NIOCore
import NIOWebSocket
import RiverCore

/// A WebSocket connection after its handshake: subscribed to one channel
/// (server to client: one text frame per message, the river JSON), and
/// publishing each text frame the client sends to that channel, as the
/// original did.
///
/// It sits after NIOWebSocket's frame decoder, reassembles fragmented
/// messages itself (checking that every frame is masked), writes the loop's
/// shared pre-encoded frames straight to the socket, pings a quiet peer every
/// `heartbeat`, and closes with the RFC 6455 status that fits: 1003 for binary
/// frames, 1007 for text that is not UTF-8, 1009 for messages over
/// `max_message_size`, 1008 for publishes its handshake's credentials do not
/// allow (access control), 1002 for protocol errors.
final class WebSocketSubscriber: ChannelInboundHandler, Subscriber, ManagedConnection {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = ByteBuffer

    private enum State {
        case subscribing
        case live
        /// A close frame was sent; the socket closes when the peer answers or two ticks pass.
        case closing(sinceTick: UInt64)
        case closed
    }

    var hubSlot = -1
    var registryIndex = -1
    private let channel: ChannelName
    private let resume: ResumePoint
    private let server: ServerContext
    private unowned let loop: LoopContext
    /// Whether this connection holds a `max_connections` slot, to give back when it closes.
    private let holdsConnectionSlot: Bool
    private var context: ChannelHandlerContext!
    private var state = State.subscribing
    private var cursor: UInt64 = 0
    private var subscription: Subscription?
    /// A fragmented text message being reassembled.
    private var fragments: ByteBuffer?
    private let startTick: UInt64
    /// Whether the handshake's credentials allow publishing (always, without access control).
    private let mayPublish: Bool
    private var lastWriteTick: UInt64

    init(
        channel: ChannelName,
        resume: ResumePoint,
        mayPublish: Bool,
        server: ServerContext,
        loop: LoopContext,
        holdsConnectionSlot: Bool
    ) {
        self.channel = channel
        self.mayPublish = mayPublish
        self.resume = resume
        self.server = server
        self.loop = loop
        self.holdsConnectionSlot = holdsConnectionSlot
        self.startTick = loop.tick
        self.lastWriteTick = loop.tick
    }

    var deliveredSeq: UInt64 { self.cursor }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.counters.webSocketConnections += 1
        self.server.engine.subscribe(to: self.channel, from: self.resume, hubIndex: self.loop.hub.index)
            .assumeIsolated()
            .whenComplete { result in self.subscribed(result) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        if case .closing = self.state {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        guard frame.maskKey != nil else {
            self.close(code: .protocolError, reason: "client frames must be masked")
            return
        }
        switch frame.opcode {
        case .text, .binary, .continuation:
            self.receiveDataFrame(frame)
        case .ping:
            self.send(
                WebSocketFraming.frame(opcode: .pong, payload: frame.unmaskedData, allocator: context.channel.allocator)
            )
            context.flush()
        case .pong:
            break
        case .connectionClose:
            // Answer with the peer's code (if it may be sent), then close the socket once the answer is out.
            let code = WebSocketClose.reply(toPayload: frame.unmaskedData)
            self.close(code: WebSocketErrorCode(codeNumber: Int(code)), reason: "", thenCloseSocket: true)
        default:
            self.close(code: .protocolError, reason: "unexpected frame")
        }
    }

    /// Text frames (whole or in fragments) are publishes; binary ones are refused.
    private func receiveDataFrame(_ frame: WebSocketFrame) {
        let maxMessageSize = self.server.configuration.maxMessageSize
        switch (frame.opcode, self.fragments) {
        case (.binary, _):
            self.close(code: .unacceptableData, reason: "binary frames are not supported")
        case (.text, nil):
            if frame.fin {
                self.publish(frame.unmaskedData)
            } else {
                self.fragments = frame.unmaskedData
            }
        case (.continuation, var fragments?):
            var data = frame.unmaskedData
            guard fragments.readableBytes + data.readableBytes <= maxMessageSize else {
                self.fragments = nil
                self.close(code: .messageTooLarge, reason: "message larger than \(maxMessageSize) bytes")
                return
            }
            fragments.writeBuffer(&data)
            if frame.fin {
                self.fragments = nil
                self.publish(fragments)
            } else {
                self.fragments = fragments
            }
        default:
            self.close(code: .protocolError, reason: "fragments out of order")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength:
            self.close(
                code: .messageTooLarge,
                reason: "message larger than \(self.server.configuration.maxMessageSize) bytes"
            )
        default:
            self.close(code: .protocolError, reason: "malformed frame")
        }
    }

    // MARK: - Subscription

    private func subscribed(_ result: Result<Subscribed, Error>) {
        guard case .subscribing = self.state else {
            if case .success(let subscribed) = result { self.server.engine.unsubscribe(subscribed.subscription) }
            return
        }
        switch result {
        case .failure(let error):
            self.close(code: .unexpectedServerError, reason: "cannot subscribe: \(error)")
        case .success(let subscribed):
            self.subscription = subscribed.subscription
            let allocator = self.context.channel.allocator
            for notice in subscribed.catchUp.notices {
                var json = allocator.buffer(capacity: 96)
                RiverJSON.writeNotice(notice, channel: self.channel, into: &json)
                self.send(WebSocketFraming.frame(opcode: .text, payload: json, allocator: allocator))
            }
            for message in subscribed.catchUp.messages {
                self.send(EncodedMessage(message, allocator: allocator).bytes(.webSocketText))
            }
            self.cursor = subscribed.catchUp.lastSeq
            self.state = .live
            self.loop.hub.add(self, to: self.channel)
            self.context.flush()
            self.cutIfBacklogged()
        }
    }

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        guard case .live = self.state else { return .none }
        var count = DeliveryCount()
        for message in messages where message.seq > self.cursor {
            let frame = message.bytes(.webSocketText)
            self.context.write(self.wrapOutboundOut(frame), promise: nil)
            count.messages += 1
            count.bytes += frame.readableBytes
            self.cursor = message.seq
        }
        guard count.messages > 0 else { return count }
        self.lastWriteTick = self.loop.tick
        self.context.flush()
        self.cutIfBacklogged()
        return count
    }

    func finish(_ reason: FinishReason) {
        switch reason {
        case .slowConsumer:
            self.loop.counters.slowConsumersCut += 1
            self.unregister()
            self.context.close(promise: nil)
        case .channelDeleted:
            self.close(code: .normalClosure, reason: "channel deleted")
        case .channelReset:
            self.close(code: .normalClosure, reason: "channel reset: resume with seq and epoch")
        case .shutdown:
            self.close(code: .goingAway, reason: "server shutting down")
        case .timeout:
            self.close(code: .normalClosure, reason: "client_timeout")
        }
    }

    /// A text frame from the client is a publish to this connection's channel.
    private func publish(_ text: ByteBuffer) {
        guard self.mayPublish else {
            self.close(code: .policyViolation, reason: "publishing needs the publish secret or a token")
            return
        }
        guard text.readableBytes <= self.server.configuration.maxMessageSize else {
            self.close(
                code: .messageTooLarge,
                reason: "message larger than \(self.server.configuration.maxMessageSize) bytes"
            )
            return
        }
        guard text.withUnsafeReadableBytes({ UTF8Validation.isValid($0) }) else {
            self.close(code: .dataInconsistentWithMessage, reason: "text frame is not valid UTF-8")
            return
        }
        var payload = ByteBufferAllocator().buffer(capacity: text.readableBytes)
        payload.writeImmutableBuffer(text)
        self.loop.counters.publishes += 1
        let handler = NIOLoopBound(self, eventLoop: self.context.eventLoop)
        self.server.engine.publish(payload, isBinary: false, to: self.channel, on: self.context.eventLoop) { result in
            if case .failure(let error) = result { handler.value.reportPublishFailure(error) }
        }
    }

    /// `["error", {"channel": ..., "reason": ...}]`: the original's clients ignore types they do not know.
    private func reportPublishFailure(_ error: EngineError) {
        guard case .live = self.state else { return }
        var json = self.context.channel.allocator.buffer(capacity: 96)
        json.writeStaticString("[\"error\", {\"channel\": ")
        JSONString.write(self.channel.value, into: &json)
        json.writeStaticString(", \"reason\": ")
        JSONString.write(error.description, into: &json)
        json.writeStaticString("}]")
        self.send(WebSocketFraming.frame(opcode: .text, payload: json, allocator: self.context.channel.allocator))
        self.context.flush()
    }

    // MARK: - ManagedConnection

    func sweep(tick: UInt64) {
        let configuration = self.server.configuration
        switch self.state {
        case .live:
            if let timeout = configuration.clientTimeout, tick &- self.startTick >= Self.ticks(timeout) {
                self.finish(.timeout)
            } else if let heartbeat = configuration.heartbeat, tick &- self.lastWriteTick >= Self.ticks(heartbeat) {
                self.lastWriteTick = tick
                self.send(
                    WebSocketFraming.frame(
                        opcode: .ping,
                        payload: ByteBuffer(),
                        allocator: self.context.channel.allocator
                    )
                )
                self.context.flush()
            }
        case .closing(let since):
            if tick &- since >= 2 { self.context.close(promise: nil) }
        case .subscribing, .closed:
            break
        }
    }

    func quiesce() {
        self.finish(.shutdown)
    }

    func terminate() {
        self.context.close(promise: nil)
    }

    func flushQueuedWrites() {
        self.context.flush()
    }

    private static func ticks(_ amount: TimeAmount) -> UInt64 {
        UInt64(max((amount.nanoseconds + 999_999_999) / 1_000_000_000, 1))
    }

    // MARK: - Output and closing

    private func send(_ frame: ByteBuffer) {
        self.lastWriteTick = self.loop.tick
        self.context.write(self.wrapOutboundOut(frame), promise: nil)
    }

    /// Sends a close frame and waits (at most two ticks) for the peer's, or,
    /// answering the peer's close, closes the socket once the answer is out.
    private func close(code: WebSocketErrorCode, reason: String, thenCloseSocket: Bool = false) {
        switch self.state {
        case .closing, .closed: return
        case .subscribing, .live: break
        }
        self.unregister()
        self.state = .closing(sinceTick: self.loop.tick)
        let frame = WebSocketFraming.closeFrame(
            code: UInt16(WebSocketErrorCode.codeNumber(code)),
            reason: reason,
            allocator: self.context.channel.allocator
        )
        let context = self.context!
        let written = context.writeAndFlush(self.wrapOutboundOut(frame))
        if thenCloseSocket {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func cutIfBacklogged() {
        if !self.context.channel.isWritable {
            self.finish(.slowConsumer)
        }
    }

    private func connectionClosed() {
        if case .closed = self.state { return }
        self.state = .closed
        self.unregister()
        self.loop.unregister(self)
        self.loop.counters.webSocketConnections -= 1
        if self.holdsConnectionSlot { self.server.limiter.release() }
    }

    private func unregister() {
        if self.hubSlot >= 0 {
            self.loop.hub.remove(self, from: self.channel)
        }
        if let subscription = self.subscription {
            self.subscription = nil
            self.server.engine.unsubscribe(subscription)
        }
    }
}

extension WebSocketErrorCode {
    /// The numeric code, as RFC 6455 section 7.4 defines it.
    fileprivate static func codeNumber(_ code: WebSocketErrorCode) -> Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: code)
        return Int(buffer.readInteger(as: UInt16.self) ?? 1000)
    }
}

@available(*, unavailable)
extension WebSocketSubscriber: Sendable {}
