import NIOCore
import RiverCore

/// `/subscribe` over plain HTTP: streaming (`keep=1`), long-poll (`keep=0`),
/// either one optionally as JSONP. One HTTP chunk per message; HTTP/1.0
/// clients, which cannot read chunks, get one message per line and the
/// stream ends when the connection closes.
///
/// Live messages are written from the loop's shared encodings; only a JSONP
/// subscriber adds a few bytes of its own (chunk header and callback name)
/// around the shared JSON.
final class HTTPStreamSubscriber: Subscriber {
    var hubSlot = -1

    private enum State {
        case subscribing
        case live
        case ended
    }

    private let request: SubscribeRequest
    private let isHTTP10: Bool
    private let keepAlive: Bool
    private unowned let connection: HTTPConnectionHandler
    private let context: ChannelHandlerContext
    private let server: ServerContext
    private let hub: LoopHub
    private let startTick: UInt64
    private var state = State.subscribing
    private var cursor: UInt64 = 0
    private var subscription: Subscription?

    /// `);` CRLF, and CRLF again to close a JSONP chunk.
    private static let jsonpChunkSuffix = ByteBuffer(string: ");\r\n\r\n")
    private static let jsonpLineSuffix = ByteBuffer(string: ");\r\n")

    init(
        request: SubscribeRequest,
        head: HTTPRequestHead,
        connection: HTTPConnectionHandler,
        context: ChannelHandlerContext,
        server: ServerContext,
        loop: LoopContext
    ) {
        self.request = request
        self.isHTTP10 = head.isHTTP10
        self.keepAlive = head.keepAlive
        self.connection = connection
        self.context = context
        self.server = server
        self.hub = loop.hub
        self.startTick = loop.tick
    }

    /// A streaming subscription owns the connection: later input is ignored.
    /// A long-poll hands it back when done, so input waits for that.
    var ignoresInput: Bool { self.request.keep }

    func start() {
        self.server.engine.subscribe(to: self.request.channel, after: self.request.seq, hubIndex: self.hub.index)
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
            self.state = .ended
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
        if let notice = catchUp.notice {
            var json = ByteBuffer()
            RiverJSON.writeNotice(notice, channel: self.request.channel, into: &json)
            self.writeDocument(json)
        }
        for message in catchUp.messages {
            _ = self.write(EncodedMessage(message, allocator: self.context.channel.allocator))
        }
        self.cursor = catchUp.lastSeq
        if !self.request.keep && !catchUp.isEmpty {
            self.end(reuseConnection: true)
            return
        }
        self.state = .live
        self.hub.add(self, to: self.request.channel)
        self.context.flush()
        self.cutIfBacklogged()
    }

    var deliveredSeq: UInt64 { self.cursor }

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        guard self.state == .live else { return .none }
        var count = DeliveryCount()
        for message in messages where message.seq > self.cursor {
            count.bytes += self.write(message)
            count.messages += 1
            self.cursor = message.seq
            if !self.request.keep { break }
        }
        guard count.messages > 0 else { return count }
        if !self.request.keep {
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
            self.state = .ended
            self.connection.streamDidEnd(reuseConnection: false)
        case .live:
            if reason == .slowConsumer {
                self.state = .ended
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
        self.state = .ended
        self.unregister()
    }

    /// Ends the stream once `client_timeout` has passed.
    func sweep(tick: UInt64, clientTimeoutTicks: UInt64?) {
        guard self.state == .live, let timeout = clientTimeoutTicks, tick &- self.startTick >= timeout else { return }
        self.finish(.timeout)
    }

    // MARK: - Writing

    private func writeHead() {
        var head = self.context.channel.allocator.buffer(capacity: 256)
        HTTPResponseWriter.writeHead(
            status: .ok,
            contentType: self.request.callback == nil
                ? "text/plain; charset=utf-8" : "application/javascript; charset=utf-8",
            framing: self.isHTTP10 ? .close : .chunked,
            keepAlive: !self.isHTTP10 && self.keepAlive,
            isHTTP10: self.isHTTP10,
            extraHeaders: [
                ("Cache-Control", "no-cache, no-store"), ("X-Accel-Buffering", "no"),
                ("X-Content-Type-Options", "nosniff"),
            ],
            into: &head
        )
        self.context.write(NIOAny(head), promise: nil)
    }

    /// Writes one message; returns the bytes written.
    private func write(_ message: EncodedMessage) -> Int {
        if self.request.callback != nil {
            return self.writeJSONP(message.bytes(.json))
        }
        let bytes = message.bytes(self.isHTTP10 ? .line : .chunk)
        self.context.write(NIOAny(bytes), promise: nil)
        return bytes.readableBytes
    }

    /// Writes a one-off JSON document (a notice) with this stream's framing.
    private func writeDocument(_ json: ByteBuffer) {
        if self.request.callback != nil {
            _ = self.writeJSONP(json)
            return
        }
        let allocator = self.context.channel.allocator
        let framed: ByteBuffer
        if self.isHTTP10 {
            var line = allocator.buffer(capacity: json.readableBytes + 2)
            line.writeImmutableBuffer(json)
            line.writeStaticString("\r\n")
            framed = line
        } else {
            framed = ChunkFraming.makeChunk(capacity: json.readableBytes, allocator: allocator) {
                $0.writeImmutableBuffer(json)
            }
        }
        self.context.write(NIOAny(framed), promise: nil)
    }

    /// `callback(JSON);` CRLF: the JSON is the shared buffer, only the prefix is this subscriber's.
    private func writeJSONP(_ json: ByteBuffer) -> Int {
        let callback = self.request.callback!
        let allocator = self.context.channel.allocator
        let prefix: ByteBuffer
        if self.isHTTP10 {
            prefix = allocator.buffer(string: callback + "(")
        } else {
            let length = callback.utf8.count + 1 + json.readableBytes + Self.jsonpLineSuffix.readableBytes
            var buffer = allocator.buffer(capacity: callback.utf8.count + 12)
            buffer.writeString(String(length, radix: 16, uppercase: true))
            buffer.writeStaticString("\r\n")
            buffer.writeString(callback)
            buffer.writeStaticString("(")
            prefix = buffer
        }
        let suffix = self.isHTTP10 ? Self.jsonpLineSuffix : Self.jsonpChunkSuffix
        self.context.write(NIOAny(prefix), promise: nil)
        self.context.write(NIOAny(json), promise: nil)
        self.context.write(NIOAny(suffix), promise: nil)
        return prefix.readableBytes + json.readableBytes + suffix.readableBytes
    }

    // MARK: - Ending

    /// Ends the response cleanly: the last chunk, then the connection is
    /// reused (a finished long-poll) or closed.
    private func end(reuseConnection: Bool) {
        self.state = .ended
        self.unregister()
        if !self.isHTTP10 {
            self.context.write(NIOAny(ChunkFraming.terminator), promise: nil)
        }
        self.connection.streamDidEnd(reuseConnection: reuseConnection && !self.isHTTP10 && self.keepAlive)
    }

    private func cutIfBacklogged() {
        if !self.context.channel.isWritable {
            self.finish(.slowConsumer)
        }
    }

    private func unregister() {
        if self.hubSlot >= 0 {
            self.hub.remove(self, from: self.request.channel)
        }
        if let subscription = self.subscription {
            self.subscription = nil
            self.server.engine.unsubscribe(subscription)
        }
    }
}

@available(*, unavailable)
extension HTTPStreamSubscriber: Sendable {}
