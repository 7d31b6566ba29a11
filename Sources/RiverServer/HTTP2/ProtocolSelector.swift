import NIOCore
import NIOTLS

/// Holds a connection from accept until its application protocol is known,
/// then has `ServerContext` build its handlers and steps aside:
/// - over TLS, when the handshake completes: ALPN's `h2` gets HTTP/2,
///   anything else (`http/1.1`, no ALPN) HTTP/1.1;
/// - over TCP with `http2_cleartext on`, from the first bytes: the HTTP/2
///   connection preface (RFC 9113 section 3.4, prior knowledge) gets
///   HTTP/2, anything else HTTP/1.1.
///
/// It keeps the connection's slot under `max_connections` meanwhile, and
/// `read_timeout` bounds the wait (a handshake or preface that never
/// completes), counted by the loop's sweeps as for any connection.
final class ProtocolSelector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// How the protocol is told.
    enum Source {
        /// The TLS handshake's ALPN result.
        case alpn
        /// The first bytes: the HTTP/2 preface or not.
        case preface
    }

    static let preface = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

    let server: ServerContext
    unowned let loop: ServerLoop
    var registryIndex = -1
    private let source: Source
    private let listener: ListenerRole
    private var slot: ConnectionSlot?
    private var buffered: ByteBuffer?
    private var context: ChannelHandlerContext?
    private let acceptedAt: UInt64
    private var chosen = false

    init(
        source: Source,
        server: ServerContext,
        listener: ListenerRole,
        loop: ServerLoop,
        slot: consuming ConnectionSlot
    ) {
        self.source = source
        self.server = server
        self.listener = listener
        self.loop = loop
        self.slot = .some(slot)
        self.acceptedAt = loop.tick
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.lifetimeObserver?.track(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.loop.unregister(self)
        self.slot.take()?.release()
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .alpn = self.source, let event = event as? TLSUserEvent,
            case .handshakeCompleted(let negotiated) = event
        {
            context.fireUserInboundEventTriggered(event)
            self.choose(negotiated == "h2" ? .http2 : .http1, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        if var buffered = self.buffered {
            self.buffered = nil
            buffered.writeBuffer(&bytes)
            bytes = buffered
        }
        guard !self.chosen else {
            context.fireChannelRead(self.wrapInboundOut(bytes))
            return
        }
        self.buffered = bytes
        guard case .preface = self.source else { return }
        let count = min(bytes.readableBytes, Self.preface.readableBytes)
        let start = bytes.readableBytesView.prefix(count)
        if !start.elementsEqual(Self.preface.readableBytesView.prefix(count)) {
            self.choose(.http1, context: context)
        } else if count == Self.preface.readableBytes {
            self.choose(.http2, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A failed handshake: nothing above to tell.
        context.close(promise: nil)
    }

    /// Builds the protocol's handlers above this one, hands them what was read, and leaves.
    private func choose(_ applicationProtocol: ApplicationProtocol, context: ChannelHandlerContext) {
        guard !self.chosen else { return }
        self.chosen = true
        do {
            try self.server.serve(
                context.channel,
                speaking: applicationProtocol,
                listener: self.listener,
                loop: self.loop,
                slot: self.slot.take()
            )
        } catch {
            context.close(promise: nil)
            return
        }
        if let buffered = self.buffered {
            self.buffered = nil
            context.fireChannelRead(self.wrapInboundOut(buffered))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

extension ProtocolSelector: ManagedConnection {
    func flushQueuedWrites() {}

    func sweep(tick: UInt64) {
        if !self.chosen, tick &- self.acceptedAt >= self.loop.timeouts.readTicks {
            self.context?.close(promise: nil)
        }
    }

    func quiesce() {
        if !self.chosen { self.context?.close(promise: nil) }
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension ProtocolSelector: Sendable {}
