import NIOCore
import RiverCore

/// A subscription carried by an HTTP response: river JSON streaming
/// (`keep=1`), long-poll (`keep=0`), JSONP, or Server-Sent Events. The
/// `StreamEncoding` decides the bytes; this class runs the lifecycle:
/// subscribe, replay, go live, end cleanly or be cut.
///
/// Live messages are written from the loop's shared encodings; only JSONP
/// adds a few bytes of its own around the shared JSON.
final class HTTPStreamSubscriber: Subscriber {
    var hubSlot = -1

    private enum State {
        case subscribing
        case live
        case ended
    }

    private let channel: ChannelName
    private let resume: ResumePoint
    private let keep: Bool
    private let encoding: StreamEncoding
    private let isHTTP10: Bool
    private let keepAlive: Bool
    private let extraHeaders: [(String, String)]
    private unowned let connection: HTTPConnectionHandler
    private let context: ChannelHandlerContext
    private let server: ServerContext
    private unowned let loop: LoopContext
    private let startTick: UInt64
    private var lastWriteTick: UInt64
    private var state = State.subscribing
    private var cursor: UInt64 = 0
    private var subscription: Subscription?

    init(
        request: SubscribeRequest,
        head: HTTPRequestHead,
        extraHeaders: [(String, String)],
        connection: HTTPConnectionHandler,
        context: ChannelHandlerContext,
        server: ServerContext,
        loop: LoopContext
    ) {
        self.channel = request.channel
        self.resume = request.resume
        self.keep = request.keep
        switch request.transport {
        case .stream(_, let callback): self.encoding = .river(chunked: !head.isHTTP10, callback: callback)
        case .eventStream: self.encoding = .eventStream
        }
        self.isHTTP10 = head.isHTTP10
        self.keepAlive = head.keepAlive
        self.extraHeaders = extraHeaders
        self.connection = connection
        self.context = context
        self.server = server
        self.loop = loop
        self.startTick = loop.tick
        self.lastWriteTick = loop.tick
    }

    var deliveredSeq: UInt64 { self.cursor }

    /// A streaming subscription owns the connection: later input is ignored.
    /// A long-poll hands it back when done, so input waits for that.
    var ignoresInput: Bool { self.keep }

    func start() {
        self.adjustOpenCount(by: 1)
        self.server.engine.subscribe(to: self.channel, from: self.resume, hubIndex: self.loop.hub.index)
            .assumeIsolated()
            .whenComplete { result in self.subscribed(result) }
    }

    private func subscribed(_ result: Result<Subscribed, Error>) {
        let subscribed: Subscribed
        switch result {
        case .success(let value):
            subscribed = value
        case .failure(let error):
            guard self.state == .subscribing else { return }
            self.markEnded()
            self.connection.streamFailed(.unavailable("cannot subscribe: \(error)"))
            return
        }
        guard self.state == .subscribing else {
            self.server.engine.unsubscribe(subscribed.subscription)
            return
        }
        self.subscription = subscribed.subscription
        self.writeHead()
        let catchUp = subscribed.catchUp
        for notice in catchUp.notices {
            self.encoding.write(notice, channel: self.channel, to: self.context)
        }
        for message in catchUp.messages {
            _ = self.encoding.write(
                EncodedMessage(message, allocator: self.context.channel.allocator),
                to: self.context
            )
        }
        self.cursor = catchUp.lastSeq
        if !self.keep && !catchUp.isEmpty {
            self.end(reuseConnection: true)
            return
        }
        self.state = .live
        self.loop.hub.add(self, to: self.channel)
        self.context.flush()
        self.cutIfBacklogged()
    }

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        guard self.state == .live else { return .none }
        var count = DeliveryCount()
        for message in messages where message.seq > self.cursor {
            count.bytes += self.encoding.write(message, to: self.context)
            count.messages += 1
            self.cursor = message.seq
            if !self.keep { break }
        }
        guard count.messages > 0 else { return count }
        self.lastWriteTick = self.loop.tick
        if !self.keep {
            self.end(reuseConnection: true)
        } else {
            self.context.flush()
            self.cutIfBacklogged()
        }
        return count
    }

    func finish(_ reason: FinishReason) {
        switch self.state {
        case .ended:
            return
        case .subscribing:
            self.markEnded()
            self.connection.streamDidEnd(reuseConnection: false)
        case .live:
            if reason == .slowConsumer {
                self.markEnded()
                self.unregister()
                self.connection.abort()
            } else {
                self.end(reuseConnection: false)
            }
        }
    }

    /// The client went away.
    func connectionClosed() {
        guard self.state != .ended else { return }
        self.markEnded()
        self.unregister()
    }

    /// Once a second: ends the stream after `client_timeout`, and writes a
    /// heartbeat when the stream was quiet for `heartbeat`.
    func sweep(tick: UInt64, clientTimeoutTicks: UInt64?, heartbeatTicks: UInt64?) {
        guard self.state == .live else { return }
        if let timeout = clientTimeoutTicks, tick &- self.startTick >= timeout {
            self.finish(.timeout)
            return
        }
        if let interval = heartbeatTicks, tick &- self.lastWriteTick >= interval,
            let heartbeat = self.encoding.heartbeat
        {
            self.lastWriteTick = tick
            self.context.writeAndFlush(NIOAny(heartbeat), promise: nil)
        }
    }

    // MARK: - Writing and ending

    private func writeHead() {
        var head = self.context.channel.allocator.buffer(capacity: 256)
        let chunked = self.encoding.isChunked
        HTTPResponseWriter.writeHead(
            status: .ok,
            contentType: self.encoding.contentType,
            framing: chunked ? .chunked : .close,
            keepAlive: chunked && self.keepAlive,
            isHTTP10: self.isHTTP10,
            extraHeaders: [
                ("Cache-Control", "no-cache, no-store"), ("X-Accel-Buffering", "no"),
                ("X-Content-Type-Options", "nosniff"),
            ] + self.extraHeaders,
            into: &head
        )
        self.context.write(NIOAny(head), promise: nil)
    }

    /// Ends the response cleanly: the last chunk, then the connection is
    /// reused (a finished long-poll) or closed. Unchunked streams end by closing.
    private func end(reuseConnection: Bool) {
        self.markEnded()
        self.unregister()
        let chunked = self.encoding.isChunked
        if chunked {
            self.context.write(NIOAny(ChunkFraming.terminator), promise: nil)
        }
        self.connection.streamDidEnd(reuseConnection: reuseConnection && chunked && self.keepAlive)
    }

    /// The stream is over (whatever the reason): counted out exactly once.
    private func markEnded() {
        guard self.state != .ended else { return }
        self.state = .ended
        self.adjustOpenCount(by: -1)
    }

    /// Keeps `/stats`' open streams by transport.
    private func adjustOpenCount(by delta: Int) {
        switch self.encoding {
        case .eventStream: self.loop.counters.openEventStreams += delta
        case .river where self.keep: self.loop.counters.openStreams += delta
        case .river: self.loop.counters.openLongPolls += delta
        }
    }

    private func cutIfBacklogged() {
        if !self.context.channel.isWritable {
            self.finish(.slowConsumer)
        }
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

@available(*, unavailable)
extension HTTPStreamSubscriber: Sendable {}
