import NIOCore
import NIOHTTP2

/// The connection under an HTTP/2 session: its place under
/// `max_connections`, its idle timeout and its shutdown. It sits between
/// `NIOHTTP2Handler` and the stream multiplexer, so it sees every frame: a
/// publish it answers itself (`HTTP2ConnectionHandler+Publish`), every other
/// stream goes on to the multiplexer, whose initializer tells it of the
/// stream (`streamOpened`), served by its own `HTTPConnectionHandler` (which
/// registers with the loop by itself).
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
    let server: ServerContext
    let listener: ListenerRole
    var registryIndex = -1
    private(set) var context: ChannelHandlerContext?
    private var slot: ConnectionSlot?
    private var openStreams = 0
    /// The newest stream the peer opened: a HEADERS frame above it opens another.
    private(set) var lastStreamID = HTTP2StreamID.rootStream
    /// The streams answered here (publishes), until they close: a few at a time (at most
    /// `max_concurrent_streams`), searched in order, cheaper than hashing a stream id per frame.
    var directStreams: [HTTP2StreamID] = []
    /// The socket does not take more: no more reads (and so no more requests) until it does.
    private var readPending = false
    /// Between a read's frames and its end: `NIOHTTP2Handler` flushes what was
    /// written meanwhile as the read completes, so an answer written now needs no flush of its own.
    private(set) var isReading = false
    /// When the last stream closed (or the connection opened).
    private var idleSince: UInt64
    private var goingAway = false
    /// The streams reset for a malformed request so far (`HTTP2ConnectionHandler+MalformedRequests`).
    var malformedRequests = 0
    /// The peer has acknowledged River's SETTINGS: it may use what they allow (RFC 8441's `:protocol`).
    private(set) var peerAcknowledgedSettings = false
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

    init(server: ServerContext, listener: ListenerRole, loop: ServerLoop, slot: consuming ConnectionSlot?) {
        self.server = server
        self.listener = listener
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.isReading = true
        let frame = self.unwrapInboundIn(data)
        // (What the peer sends on a stream answered here — RST_STREAM, WINDOW_UPDATE — is its own.)
        guard !self.directStreams.contains(frame.streamID) else { return }
        switch frame.payload {
        case .settings(.ack):
            self.peerAcknowledgedSettings = true
        case .headers(let headers):
            // (The first HEADERS of a stream is its request, any later one its trailers.)
            let opensStream = frame.streamID > self.lastStreamID
            let isWhole = opensStream && headers.endStream
            // A plain publish is checked as its head is read; any other block here.
            let plainHead = isWhole ? Self.plainPublishHead(headers.headers, limits: self.server.parserLimits) : nil
            if plainHead == nil,
                self.refusesMalformed(headers.headers, opensStream: opensStream, on: frame.streamID, context: context)
            {
                return
            }
            if isWhole, let publish = self.directPublish(headers.headers, plainHead: plainHead, context: context) {
                self.answer(publish, on: frame.streamID, context: context)
                return
            }
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.isReading = false
        context.fireChannelReadComplete()
    }

    /// The events of a stream answered here (its creation, window, close) end here: the
    /// multiplexer never saw the stream.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !self.directStreams.isEmpty, let stream = Self.stream(of: event),
            let index = self.directStreams.firstIndex(of: stream)
        {
            if event is StreamClosedEvent {
                self.directStreams.remove(at: index)
                self.streamClosed()
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// The stream a stream's event of swift-nio-http2 is about.
    private static func stream(of event: Any) -> HTTP2StreamID? {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent: created.streamID
        case let closed as StreamClosedEvent: closed.streamID
        case let window as NIOHTTP2WindowUpdatedEvent: window.streamID
        default: nil
        }
    }

    /// Reads wait while the socket is full: a peer that sends publishes and never reads its
    /// answers stops being read, as on HTTP/1.1.
    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable else {
            self.readPending = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, self.readPending {
            self.readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    /// A stream opened (the multiplexer made its channel): open until its channel closes.
    func streamOpened(_ stream: Channel) {
        self.streamStarted(try? stream.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID))
        stream.closeFuture.assumeIsolated().whenComplete { _ in self.streamClosed() }
    }

    /// A stream is open, `id` the peer's newest when known.
    func streamStarted(_ id: HTTP2StreamID?) {
        self.openStreams += 1
        if self.isCounted { self.loop.counters.http2Streams += 1 }
        if let id { self.lastStreamID = max(self.lastStreamID, id) }
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
        // A malformed request: its stream is reset, the others go on.
        if HTTP2StreamErrors.endsOnlyItsStream(error) {
            self.loop.counters.badRequests += 1
            self.countMalformedRequest(context: context)
            return
        }
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
