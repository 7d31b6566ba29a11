import NIOCore
import NIOWebSocket
import RiverCore

/// A WebSocket connection after its handshake. Its `StreamSubscriber`
/// (WebSocket framing) carries the channel to the client; each text message
/// the client sends is published to that channel, as the original did.
///
/// It sits after NIOWebSocket's frame decoder, reassembles fragmented
/// messages, answers pings, and closes with the RFC 6455 status that fits:
/// 1003 for binary frames, 1007 for text that is not UTF-8, 1009 for messages
/// over `max_message_size`, 1008 for publishes its handshake's credentials do
/// not allow, 1002 for protocol errors. Pongs and everything else it writes
/// share the connection's output budget: while output is over its high-water
/// mark it reads no more frames. It gives back the connection's
/// `max_connections` slot when the connection closes.
final class WebSocketConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case open
        /// A close frame was sent; the socket closes when the peer answers or two ticks pass.
        case closing(sinceTick: UInt64)
        case closed
    }

    var registryIndex = -1
    private let channel: ChannelName
    /// Whether the handshake's credentials allow publishing (always, without access control).
    private let mayPublish: Bool
    private let server: ServerContext
    private unowned let loop: LoopContext
    private var context: ChannelHandlerContext?
    private var subscriber: StreamSubscriber?
    private var resume: ResumePoint?
    private var state = State.open
    /// A fragmented text message being reassembled.
    private var fragments: ByteBuffer?
    private var readHeld = false
    /// Whether output is under its high-water mark (from `channelWritabilityChanged`).
    private var outputIsWritable = true

    init(_ upgrade: WebSocketUpgrade, server: ServerContext, loop: LoopContext) {
        self.channel = upgrade.channel
        self.mayPublish = upgrade.mayPublish
        self.resume = upgrade.resume
        self.server = server
        self.loop = loop
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.lifetimeProbe?.track(self)
        self.loop.counters.webSocketConnections += 1
        let subscriber = StreamSubscriber(
            channel: self.channel,
            framing: .webSocket,
            endsAfterFirstBatch: false,
            loop: self.loop
        )
        self.subscriber = subscriber
        subscriber.start(from: self.resume ?? .live, writingTo: self)
        self.resume = nil
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
        switch self.state {
        case .open: break
        case .closing:
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        case .closed: return
        }
        guard frame.maskKey != nil else {
            self.close(code: .protocolError, reason: "client frames must be masked")
            return
        }
        switch frame.opcode {
        case .text, .binary, .continuation:
            self.receiveDataFrame(frame)
        case .ping:
            self.write(WebSocketFraming.frame(opcode: .pong, payload: frame.unmaskedData, allocator: self.allocator))
            self.flush()
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

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.outputIsWritable = context.channel.isWritable
        if self.outputIsWritable {
            self.subscriber?.outputBecameWritable()
            if self.readHeld {
                self.readHeld = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Frames are read only while output is under its high-water mark, so a
    /// peer that pings and never reads cannot pile up pongs.
    func read(context: ChannelHandlerContext) {
        if self.outputIsWritable {
            context.read()
        } else {
            self.readHeld = true
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

    // MARK: - Messages from the client

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

    /// A text message from the client is a publish to this connection's channel.
    private func publish(_ text: ByteBuffer) {
        guard self.mayPublish else {
            self.close(code: .policyViolation, reason: "publishing needs the publish secret or a token")
            return
        }
        let maxMessageSize = self.server.configuration.maxMessageSize
        guard text.readableBytes <= maxMessageSize else {
            self.close(code: .messageTooLarge, reason: "message larger than \(maxMessageSize) bytes")
            return
        }
        guard text.withUnsafeReadableBytes({ UTF8Validation.isValid($0) }) else {
            self.close(code: .dataInconsistentWithMessage, reason: "text frame is not valid UTF-8")
            return
        }
        guard let context = self.context else { return }
        var payload = ByteBufferAllocator().buffer(capacity: text.readableBytes)
        payload.writeImmutableBuffer(text)
        self.loop.counters.publishes += 1
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.server.engine.publish(payload, isBinary: false, to: self.channel, on: context.eventLoop) { result in
            if case .failure(let error) = result { handler.value.reportPublishFailure(error) }
        }
    }

    /// `["error", {"channel": ..., "reason": ...}]`: the original's clients ignore types they do not know.
    private func reportPublishFailure(_ error: EngineError) {
        guard case .open = self.state else { return }
        var json = self.allocator.buffer(capacity: 96)
        json.writeStaticString("[\"error\", {\"channel\": ")
        JSONString.write(self.channel.value, into: &json)
        json.writeStaticString(", \"reason\": ")
        JSONString.write(error.description, into: &json)
        json.writeStaticString("}]")
        self.write(WebSocketFraming.frame(opcode: .text, payload: json, allocator: self.allocator))
        self.flush()
    }

    // MARK: - Closing

    /// Sends a close frame and waits (at most two ticks) for the peer's, or,
    /// answering the peer's close, closes the socket once the answer is out.
    private func close(code: WebSocketErrorCode, reason: String, thenCloseSocket: Bool = false) {
        guard case .open = self.state, let context = self.context else { return }
        self.subscriber?.detach()
        self.subscriber = nil
        self.state = .closing(sinceTick: self.loop.tick)
        let frame = WebSocketFraming.closeFrame(
            code: UInt16(webSocketErrorCode: code),
            reason: reason,
            allocator: context.channel.allocator
        )
        let written = context.writeAndFlush(self.wrapOutboundOut(frame))
        if thenCloseSocket {
            let channel = context.channel
            written.assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func connectionClosed() {
        if case .closed = self.state { return }
        self.state = .closed
        self.loop.counters.webSocketConnections -= 1
        self.server.limiter.release()
        self.subscriber?.detach()
        self.subscriber = nil
        self.fragments = nil
        self.loop.unregister(self)
    }
}

// MARK: - The subscription's output

extension WebSocketConnectionHandler: SubscriberOutput {
    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }

    var isWritable: Bool { self.outputIsWritable && self.context != nil }

    func write(_ bytes: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(bytes), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    func streamWillStart() {}

    func streamDidEnd(_ end: StreamEnd) {
        self.subscriber = nil
        switch end {
        case .completed:
            // The framing wrote the close frame: wait for the peer's.
            self.state = .closing(sinceTick: self.loop.tick)
            self.flush()
        case .cut:
            self.state = .closing(sinceTick: self.loop.tick)
            self.context?.close(promise: nil)
        case .refused(let error):
            self.close(code: .unexpectedServerError, reason: error.reason)
        }
    }
}

// MARK: - Timeouts and shutdown

extension WebSocketConnectionHandler: ManagedConnection {
    func flushQueuedWrites() {
        self.flush()
    }

    func sweep(tick: UInt64) {
        switch self.state {
        case .open:
            self.subscriber?.tick(tick, self.loop.timeouts)
        case .closing(let since):
            if tick &- since >= 2 { self.context?.close(promise: nil) }
        case .closed:
            break
        }
    }

    func quiesce() {
        if let subscriber = self.subscriber {
            subscriber.finish(.shutdown)
        } else {
            self.close(code: .goingAway, reason: "server shutting down")
        }
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension WebSocketConnectionHandler: Sendable {}
