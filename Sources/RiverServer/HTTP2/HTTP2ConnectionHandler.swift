import NIOCore
import NIOHTTP2

/// The connection under an HTTP/2 session: its place under
/// `max_connections`, its idle timeout and its shutdown. It sits above
/// `NIOHTTP2Handler`, which sends it the connection's own frames; the
/// stream initializer tells it of each stream (`streamOpened`), served by
/// its own `HTTPConnectionHandler` (which registers with the loop by itself).
///
/// - Idle: with no stream open for `keepalive_timeout`, GOAWAY and close.
/// - Shutdown: GOAWAY naming the last stream taken; the streams end
///   cleanly (the loop quiesces their handlers), then the connection closes.
final class HTTP2ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    unowned let loop: ServerLoop
    var registryIndex = -1
    private var context: ChannelHandlerContext?
    private var slot: ConnectionSlot?
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    /// When the last stream closed (or the connection opened).
    private var idleSince: UInt64
    private var goingAway = false
    /// In the loop's `http2Connections` (and its streams in `http2Streams`) until it closes.
    private var isCounted = false
    /// Below `NIOHTTP2Handler`: its flushes wait for the end of the tick (`flushQueuedWrites`).
    var coalescer: HTTP2FlushCoalescer? {
        didSet {
            self.coalescer?.flushAtEndOfTick = { [weak self] in
                guard let self else { return }
                self.loop.flushAtEndOfTick(self)
            }
        }
    }

    init(loop: ServerLoop, slot: consuming ConnectionSlot?) {
        self.loop = loop
        self.slot = slot
        self.idleSince = loop.tick
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.lifetimeObserver?.track(self)
        self.isCounted = true
        self.loop.counters.http2Connections += 1
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.closed()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed()
        context.fireChannelInactive()
    }

    /// A stream opened (the multiplexer made its channel): open until its channel closes.
    /// (The inline multiplexer keeps the streams' created and closed events to itself, so
    /// the streams are counted from their channels.)
    func streamOpened(_ stream: Channel) {
        self.openStreams += 1
        if self.isCounted { self.loop.counters.http2Streams += 1 }
        if let id = try? stream.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID) {
            self.lastStreamID = max(self.lastStreamID, id)
        }
        stream.closeFuture.assumeIsolated().whenComplete { _ in self.streamClosed() }
    }

    private func streamClosed() {
        self.openStreams -= 1
        if self.isCounted { self.loop.counters.http2Streams -= 1 }
        if self.openStreams == 0 {
            self.idleSince = self.loop.tick
            if self.goingAway { self.context?.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // (NIOHTTP2Handler has already sent GOAWAY for a connection error.)
        if error is any NIOHTTP2Error {
            self.loop.cuts.record(
                .protocolError,
                peer: context.channel.remoteAddress,
                transport: "h2",
                detail: "\(error)"
            )
        }
        context.close(promise: nil)
    }

    private func closed() {
        self.slot.take()?.release()
        self.loop.unregister(self)
        if self.isCounted {
            self.isCounted = false
            self.loop.counters.http2Connections -= 1
            self.loop.counters.http2Streams -= self.openStreams
        }
    }

    /// GOAWAY (NO_ERROR): no stream after the last one taken; those open may finish.
    private func goAway() {
        guard !self.goingAway, let context = self.context else { return }
        self.goingAway = true
        let frame = HTTP2Frame(
            streamID: .rootStream,
            payload: .goAway(lastStreamID: self.lastStreamID, errorCode: .noError, opaqueData: nil)
        )
        context.writeAndFlush(self.wrapOutboundOut(frame), promise: nil)
        if self.openStreams == 0 { context.close(promise: nil) }
    }
}

extension HTTP2ConnectionHandler: ManagedConnection {
    func flushQueuedWrites() {
        self.coalescer?.flushNow()
    }

    func sweep(tick: UInt64) {
        if self.openStreams == 0, tick &- self.idleSince >= self.loop.timeouts.keepAliveTicks {
            self.goAway()
        }
    }

    func quiesce() {
        self.goAway()
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2ConnectionHandler: Sendable {}
