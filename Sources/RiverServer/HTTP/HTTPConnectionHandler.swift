import NIOCore
import NIOWebSocket
import RiverCore

/// One client connection: parses HTTP/1.1 requests (pipelined ones in order),
/// answers them, and hands the connection to a subscriber when a request
/// subscribes. The only handler in the pipeline, so its writes go straight to
/// the socket.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, ManagedConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        /// Reading and answering requests.
        case requests
        /// A response is being computed elsewhere (another loop); later requests wait.
        case awaitingResponse
        /// The connection carries a subscription.
        case streaming(HTTPStreamSubscriber)
        /// The last response is out; the connection closes.
        case closing(sinceTick: UInt64)
    }

    /// Input buffered beyond this while a response is pending stops reading from the socket.
    private static let maxBufferedInput = 64 * 1024
    private static let continueResponse = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")

    var registryIndex = -1
    private let server: ServerContext
    private let loop: LoopContext
    /// False when the connection arrived over `max_connections`: it is answered 503.
    private let admitted: Bool
    /// Which routes this connection's listener serves.
    private let listener: Listener
    /// Request parsing state; dropped while the connection only streams out.
    private var parserIfReading: HTTPRequestParser?
    private var mode = Mode.requests
    private var context: ChannelHandlerContext!
    private var isProcessing = false
    private var needsFlush = false
    /// Whether the loop will flush this connection at the end of the tick.
    private var flushQueued = false
    private var readHeld = false
    private var isClosed = false
    /// The tick at which the partial request in the parser began (read timeout).
    private var requestStartTick: UInt64?
    /// The tick since which the connection has been idle between requests.
    private var idleSinceTick: UInt64 = 0
    /// Nothing has arrived yet (a Flash policy request is only recognised first).
    private var awaitingFirstBytes = true
    /// The connection became a WebSocket: another handler owns its slot now.
    private var handedOff = false
    /// CORS headers for the request being answered.
    private var corsHeaders: [(String, String)] = []

    init(server: ServerContext, loop: LoopContext, admitted: Bool, listener: Listener) {
        self.server = server
        self.loop = loop
        self.admitted = admitted
        self.listener = listener
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.idleSinceTick = self.loop.tick
        self.loop.register(self)
        self.loop.counters.connectionsAccepted += 1
        if !self.admitted { self.loop.counters.connectionsRejected += 1 }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.mode {
        case .streaming(let subscriber) where subscriber.ignoresInput:
            return
        case .closing:
            return
        default:
            break
        }
        let bytes = self.unwrapInboundIn(data)
        if self.awaitingFirstBytes {
            self.awaitingFirstBytes = false
            if bytes.readableBytesView.starts(with: Self.policyFileRequest.utf8) {
                self.answerPolicyFileRequest()
                return
            }
        }
        self.parser.append(bytes)
        if self.requestStartTick == nil { self.requestStartTick = self.loop.tick }
        self.processRequests()
    }

    private static let policyFileRequest = "<policy-file-request/>"

    /// The Flash socket policy, for a raw `<policy-file-request/>` NUL on the port.
    private func answerPolicyFileRequest() {
        var answer = self.server.staticFiles.file("crossdomain.xml")?.body ?? ByteBuffer(string: Self.defaultPolicy)
        answer.writeInteger(UInt8(0))
        self.write(answer)
        self.closeAfterWrites()
    }

    private static let defaultPolicy =
        "<?xml version=\"1.0\"?><cross-domain-policy><allow-access-from domain=\"*\" to-ports=\"*\"/></cross-domain-policy>"

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.needsFlush && !self.flushQueued {
            self.flushQueued = true
            self.loop.flushAtEndOfTick(self)
        }
    }

    func flushQueuedWrites() {
        self.flushQueued = false
        self.flushIfNeeded()
    }

    func read(context: ChannelHandlerContext) {
        switch self.mode {
        case .requests, .closing:
            context.read()
        case .streaming(let subscriber) where subscriber.ignoresInput:
            context.read()
        case .awaitingResponse, .streaming:
            if (self.parserIfReading?.bufferedBytes ?? 0) >= Self.maxBufferedInput {
                self.readHeld = true
            } else {
                context.read()
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.server.logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Requests

    /// Answers every complete request in the parser, in order, until one must wait.
    private func processRequests() {
        guard !self.isProcessing else { return }
        self.isProcessing = true
        defer { self.isProcessing = false }
        while case .requests = self.mode {
            let event: HTTPRequestParser.Event
            do {
                event = try self.parser.next()
            } catch {
                self.loop.counters.badRequests += 1
                self.respondAndClose(status: error.status, reason: error.reason, isHTTP10: false)
                return
            }
            switch event {
            case .needMoreData:
                if !self.parser.hasPartialRequest {
                    self.requestStartTick = nil
                    self.idleSinceTick = self.loop.tick
                }
                self.resumeReadingIfHeld()
                return
            case .continueRequired:
                self.write(Self.continueResponse)
            case .request(let request):
                self.requestStartTick = self.parser.hasPartialRequest ? self.loop.tick : nil
                self.handle(request)
            }
        }
    }

    /// Answers `request`, or starts what will. `verified` is its token, once
    /// checked: a request that needs one is handled again after the check.
    private func handle(_ request: HTTPRequest, verified: AccessToken? = nil) {
        if verified == nil { self.loop.counters.requests += 1 }
        let head = request.head
        guard self.admitted else {
            self.respondAndClose(
                status: .serviceUnavailable,
                reason: "server is at its connection limit (\(self.server.limiter.limit))",
                isHTTP10: head.isHTTP10
            )
            return
        }
        do throws(RequestError) {
            let cors = self.server.configuration.allowedOrigins
            if let origin = head.origin, !cors.allows(origin) {
                self.corsHeaders = []
                throw .forbidden("origin \(origin) is not allowed (allowed_origins)")
            }
            self.corsHeaders = cors.responseHeaders(for: head.origin)
            let route = self.listener.serves(Router.route(head.path))
            if head.method == .options && route != .notFound {
                // (a preflight for any route, DELETE on /channels included)
                self.answerPreflight(head)
                return
            }
            switch route {
            case .publish:
                if verified == nil { self.loop.counters.publishes += 1 }
                let publish = try PublishResponder.validate(request, configuration: self.server.configuration)
                let decision = try self.server.access.decide(
                    .publish,
                    channel: publish.channel,
                    request: request,
                    verified: verified
                )
                guard try self.isAllowed(decision, request: request) else { return }
                self.mode = .awaitingResponse
                let handler = NIOLoopBound(self, eventLoop: self.context.eventLoop)
                self.server.engine.publish(publish.payload, isBinary: false, to: publish.channel, on: self.context.eventLoop) { result in
                    handler.value.published(result, publish)
                }
            case .subscribe, .eventSource:
                let subscribe = try SubscribeRequest(request, route: route, configuration: self.server.configuration)
                let decision = try self.server.access.decide(
                    subscribe.accessAction,
                    channel: subscribe.channel,
                    request: request,
                    verified: verified
                )
                guard try self.isAllowed(decision, request: request) else { return }
                let subscriber = HTTPStreamSubscriber(
                    request: subscribe,
                    head: head,
                    extraHeaders: self.corsHeaders,
                    connection: self,
                    context: self.context,
                    server: self.server,
                    loop: self.loop
                )
                self.mode = .streaming(subscriber)
                if subscribe.keep {
                    // The connection now only streams out: let go of the parser and its bytes.
                    self.parserIfReading = nil
                }
                subscriber.start()
            case .webSocket:
                let key = try WebSocketHandshake.validate(head)
                let parameters = RequestParameters(query: head.query)
                let channel = try parameters.channelName(maxBytes: self.server.configuration.maxChannelName)
                let resume = try SubscribeRequest.resumePoint(seq: try parameters.unsignedInteger("seq"), parameters)
                let access = self.server.access
                let subscribing = try access.decide(
                    .subscribe,
                    channel: channel,
                    request: request,
                    verified: verified
                )
                let publishing = try access.decide(
                    .publish,
                    channel: channel,
                    request: request,
                    verified: verified
                )
                // A socket without the right to publish still subscribes (its frames
                // are refused with 1008), but wrong credentials are refused now.
                switch (subscribing, publishing) {
                case (.verify(let token), _), (_, .verify(let token)):
                    self.verify(token, thenHandle: request)
                    return
                case (.denied(let error), _):
                    throw error
                case (_, .denied(let error)) where verified == nil && error.status == .forbidden:
                    throw error
                default:
                    break
                }
                let mayPublish = if case .allowed = publishing { true } else { false }
                self.upgradeToWebSocket(key: key, channel: channel, resume: resume, mayPublish: mayPublish)
            case .staticFile(let path):
                guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET, HEAD") }
                guard let file = self.server.staticFiles.file(path) else {
                    throw .notFound(head.path + " (static files not installed: set public_dir)")
                }
                let unchanged = head.ifNoneMatch == file.etag
                self.write(
                    HTTPResponseWriter.response(
                        status: unchanged ? .notModified : .ok,
                        contentType: unchanged ? nil : file.contentType,
                        body: unchanged ? ByteBuffer() : file.body,
                        request: head,
                        keepAlive: head.keepAlive && !self.loop.isQuiescing,
                        extraHeaders: [("Cache-Control", "no-cache"), ("ETag", file.etag)] + self.corsHeaders,
                        allocator: self.context.channel.allocator
                    )
                )
                if !head.keepAlive || self.loop.isQuiescing { self.closeAfterWrites() }
            case .channel, .channelList, .stats, .metrics:
                let source = RequestSource(peer: self.context.remoteAddress, listener: self.listener, head: head)
                try self.server.access.authorizeAdmin(request, source: source)
                fallthrough
            case .health:
                let answer = try AdminResponder.respond(
                    to: route,
                    request: request,
                    server: self.server,
                    on: self.context.eventLoop
                )
                self.await(answer, for: head)
            case .notFound:
                throw .notFound(head.path)
            }
        } catch {
            self.respond(to: error, head: head)
        }
    }

    /// Whether the request may go on now. When a token must be checked first,
    /// later requests wait and `request` is handled again once it is.
    private func isAllowed(_ decision: AccessPolicy.Decision, request: HTTPRequest) throws(RequestError) -> Bool {
        switch decision {
        case .allowed:
            return true
        case .denied(let error):
            throw error
        case .verify(let token):
            self.verify(token, thenHandle: request)
            return false
        }
    }

    private func verify(_ token: String, thenHandle request: HTTPRequest) {
        self.mode = .awaitingResponse
        self.server.access.verify(token: token, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
            guard case .awaitingResponse = self.mode else { return }
            self.mode = .requests
            switch result {
            case .success(let token):
                self.handle(request, verified: token)
            case .failure(let error):
                self.respond(to: error, head: request.head)
            }
            self.continueAfterAsyncWork()
        }
    }

    /// Answers when `answer` arrives (possibly from another loop); later requests wait.
    private func await(_ answer: EventLoopFuture<AdminResponder.Answer>, for head: HTTPRequestHead) {
        self.mode = .awaitingResponse
        answer.assumeIsolated().whenComplete { result in
            guard case .awaitingResponse = self.mode else { return }
            self.mode = .requests
            switch result {
            case .success(.document(let contentType, let body)):
                let keepAlive = head.keepAlive && !self.loop.isQuiescing
                self.write(
                    HTTPResponseWriter.response(
                        status: .ok,
                        contentType: contentType,
                        body: body,
                        request: head,
                        keepAlive: keepAlive,
                        extraHeaders: self.corsHeaders,
                        allocator: self.context.channel.allocator
                    )
                )
                if !keepAlive { self.closeAfterWrites() }
            case .success(.refused(let error)):
                self.respond(to: error, head: head)
            case .failure(let error):
                self.respond(
                    to: (error as? EngineError).map { .unavailable($0.description) } ?? .internalError(),
                    head: head
                )
            }
            self.continueAfterAsyncWork()
        }
    }

    /// `OPTIONS`: a CORS preflight (or a plain question about what is allowed).
    private func answerPreflight(_ head: HTTPRequestHead) {
        let keepAlive = head.keepAlive && !self.loop.isQuiescing
        self.write(
            HTTPResponseWriter.response(
                status: .noContent,
                contentType: nil,
                body: ByteBuffer(),
                request: head,
                keepAlive: keepAlive,
                extraHeaders: [("Allow", "GET, POST, OPTIONS")]
                    + self.server.configuration.allowedOrigins.preflightHeaders(for: head),
                allocator: self.context.channel.allocator
            )
        )
        if !keepAlive { self.closeAfterWrites() }
    }

    /// Answers the handshake, then hands the connection to a `WebSocketSubscriber`
    /// behind NIOWebSocket's frame decoder.
    private func upgradeToWebSocket(key: String, channel: ChannelName, resume: ResumePoint, mayPublish: Bool) {
        let context = self.context!
        let response = WebSocketHandshake.response(
            key: key,
            extraHeaders: self.corsHeaders,
            allocator: context.channel.allocator
        )
        context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        self.needsFlush = false
        let maxMessageSize = self.server.configuration.maxMessageSize
        let subscriber = WebSocketSubscriber(
            channel: channel,
            resume: resume,
            mayPublish: mayPublish,
            server: self.server,
            loop: self.loop,
            holdsConnectionSlot: self.admitted
        )
        let pending = self.parserIfReading?.takeBufferedBytes()
        self.handedOff = true
        self.mode = .closing(sinceTick: self.loop.tick)
        do {
            try context.pipeline.syncOperations.addHandlers(
                [
                    ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageSize)),
                    subscriber,
                ],
                position: .after(self)
            )
            if let pending, pending.readableBytes > 0 {
                context.fireChannelRead(NIOAny(pending))
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }

    /// The engine stored (or refused) a publish: answer it, then go on with the next request.
    private func published(_ result: Result<UInt64, EngineError>, _ publish: PublishResponder.Publish) {
        guard case .awaitingResponse = self.mode else { return }
        self.mode = .requests
        switch result {
        case .success(let seq):
            self.write(
                PublishResponder.response(
                    seq: seq,
                    for: publish,
                    extraHeaders: self.corsHeaders,
                    allocator: self.context.channel.allocator
                )
            )
            if !publish.head.keepAlive || self.loop.isQuiescing { self.closeAfterWrites() }
        case .failure(let error):
            self.respond(to: .unavailable(error.description), head: publish.head)
        }
        self.continueAfterAsyncWork()
    }

    private func respond(to error: RequestError, head: HTTPRequestHead) {
        if error.status.code >= 400 && error.status.code < 500 { self.loop.counters.badRequests += 1 }
        self.logRefusal(status: error.status, reason: error.reason)
        let keepAlive = head.keepAlive && !self.loop.isQuiescing
        let response = HTTPResponseWriter.error(
            status: error.status,
            reason: error.reason,
            isHTTP10: head.isHTTP10,
            keepAlive: keepAlive,
            extraHeaders: error.headers.map { ($0.name, $0.value) } + self.corsHeaders,
            allocator: self.context.channel.allocator
        )
        self.write(response)
        if !keepAlive { self.closeAfterWrites() }
    }

    private func respondAndClose(status: HTTPStatus, reason: String, isHTTP10: Bool) {
        self.logRefusal(status: status, reason: reason)
        let response = HTTPResponseWriter.error(
            status: status,
            reason: reason,
            isHTTP10: isHTTP10,
            keepAlive: false,
            allocator: self.context.channel.allocator
        )
        self.write(response)
        self.closeAfterWrites()
    }

    private func logRefusal(status: HTTPStatus, reason: String) {
        self.server.logger.debug(
            "refused request",
            metadata: [
                "status": "\(status.code)", "reason": "\(reason)",
                "peer": "\(self.context.remoteAddress?.description ?? "?")",
            ]
        )
    }

    // MARK: - Streams

    /// The subscriber finished its response; the connection reads requests
    /// again or closes.
    func streamDidEnd(reuseConnection: Bool) {
        guard case .streaming = self.mode else { return }
        self.needsFlush = true
        if reuseConnection && !self.loop.isQuiescing {
            self.mode = .requests
            self.continueAfterAsyncWork()
        } else {
            self.mode = .requests
            self.closeAfterWrites()
        }
    }

    /// Subscribing failed before anything was written: answer with an error instead.
    func streamFailed(_ error: RequestError) {
        guard case .streaming = self.mode else { return }
        self.mode = .requests
        self.respondAndClose(status: error.status, reason: error.reason, isHTTP10: false)
    }

    /// Cuts the connection at once (a slow consumer).
    func abort() {
        self.loop.counters.slowConsumersCut += 1
        self.context.close(promise: nil)
    }

    // MARK: - Timeouts and shutdown

    func sweep(tick: UInt64) {
        let configuration = self.server.configuration
        switch self.mode {
        case .requests:
            if let start = self.requestStartTick {
                if tick &- start >= Self.ticks(configuration.readTimeout) {
                    self.respondAndClose(
                        status: .requestTimeout,
                        reason: "request not received in time",
                        isHTTP10: false
                    )
                    self.flushIfNeeded()
                }
            } else if tick &- self.idleSinceTick >= Self.ticks(configuration.keepAliveTimeout) {
                self.context.close(promise: nil)
            }
        case .streaming(let subscriber):
            subscriber.sweep(
                tick: tick,
                clientTimeoutTicks: configuration.clientTimeout.map(Self.ticks),
                heartbeatTicks: configuration.heartbeat.map(Self.ticks)
            )
            self.flushIfNeeded()
        case .closing(let since):
            // The peer had two ticks to close its side; now we close ours.
            if tick &- since >= 2 { self.context.close(promise: nil) }
        case .awaitingResponse:
            break
        }
    }

    func quiesce() {
        switch self.mode {
        case .requests:
            if !self.hasPartialRequest { self.context.close(promise: nil) }
        case .streaming(let subscriber):
            subscriber.finish(.shutdown)
            self.flushIfNeeded()
        case .awaitingResponse, .closing:
            break
        }
    }

    func terminate() {
        self.context.close(promise: nil)
    }

    private static func ticks(_ amount: TimeAmount) -> UInt64 {
        UInt64(max((amount.nanoseconds + 999_999_999) / 1_000_000_000, 1))
    }

    /// The parser, made on first use.
    private var parser: HTTPRequestParser {
        if let parser = self.parserIfReading { return parser }
        let parser = HTTPRequestParser(limits: self.server.parserLimits)
        self.parserIfReading = parser
        return parser
    }

    private var hasPartialRequest: Bool { self.parserIfReading?.hasPartialRequest ?? false }

    // MARK: - Output

    private func write(_ bytes: ByteBuffer) {
        self.context.write(self.wrapOutboundOut(bytes), promise: nil)
        self.needsFlush = true
    }

    private func flushIfNeeded() {
        guard self.needsFlush, !self.isClosed else { return }
        self.needsFlush = false
        self.context.flush()
    }

    /// After an async step: answer what queued up meanwhile, flush, resume reading.
    private func continueAfterAsyncWork() {
        if !self.isProcessing {
            self.processRequests()
            self.flushIfNeeded()
        }
    }

    /// Flushes what was written, then closes. When input is still unread (a
    /// refused body, pipelined junk) only our side closes first, and the
    /// socket when the peer closes or two ticks later: closing with unread
    /// input would reset the connection and the peer could lose the answer.
    private func closeAfterWrites() {
        self.mode = .closing(sinceTick: self.loop.tick)
        self.needsFlush = false
        let context = self.context!
        let unreadInput = self.hasPartialRequest
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            context.close(mode: unreadInput ? .output : .all, promise: nil)
        }
    }

    private func resumeReadingIfHeld() {
        if self.readHeld {
            self.readHeld = false
            self.context.read()
        }
    }

    private func connectionClosed() {
        guard !self.isClosed else { return }
        self.isClosed = true
        if case .streaming(let subscriber) = self.mode {
            subscriber.connectionClosed()
        }
        self.mode = .closing(sinceTick: self.loop.tick)
        self.loop.unregister(self)
        if self.admitted && !self.handedOff { self.server.limiter.release() }
    }
}

@available(*, unavailable)
extension HTTPConnectionHandler: Sendable {}
