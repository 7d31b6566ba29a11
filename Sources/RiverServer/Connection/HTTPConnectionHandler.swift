import NIOCore
import NIOWebSocket
import RiverCore

/// One HTTP/1.1 client connection. It parses requests (pipelined ones in
/// order), lets the `RequestDispatcher` decide what each is, and performs
/// that: writes answers, publishes, carries a `StreamSubscriber`'s stream, or
/// hands the connection to a `WebSocketConnectionHandler`. When to read, to
/// answer, to time out and to close is its `StateMachine`'s call.
///
/// It keeps its context only while it is in the pipeline: everything it made
/// is freed when the connection closes.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // (Pointers first, flags last: the object stays small, and a parked stream is what a server holds most of.)
    private let server: ServerContext
    private unowned let loop: LoopContext
    private var context: ChannelHandlerContext?
    /// Request parsing state; made on first use, dropped while the connection only streams out.
    private var parser: HTTPRequestParser?
    private var subscriber: StreamSubscriber?
    /// The head of the stream being started, written once its subscription is established.
    private var pendingStreamHead: PendingHead?
    var registryIndex = -1
    private var machine: StateMachine
    private let listener: ListenerRole
    /// Whether the streamed request asked to keep the connection alive after its response.
    private var streamKeepsAlive = false
    /// Whether this connection's `max_connections` slot is still to be given back
    /// when it closes (a WebSocket upgrade hands it on).
    private var holdsConnectionSlot = true
    private var isProcessing = false
    private var needsFlush = false
    /// Whether the loop will flush this connection at the end of the tick.
    private var flushQueued = false

    /// A response head waiting to be written, held only until then.
    private final class PendingHead {
        let bytes: ByteBuffer
        init(_ bytes: ByteBuffer) { self.bytes = bytes }
    }

    private static let continueResponse = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")

    init(server: ServerContext, loop: LoopContext, listener: ListenerRole) {
        self.server = server
        self.loop = loop
        self.listener = listener
        self.machine = StateMachine(acceptedAt: loop.tick)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.loop.register(self)
        self.loop.lifetimeObserver?.track(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connectionClosed()
        self.loop.unregister(self)
        self.parser = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.machine.discardsInput else { return }
        let bytes = self.unwrapInboundIn(data)
        if self.machine.isFresh && self.parser == nil
            && bytes.readableBytesView.starts(with: Self.policyFileRequest.utf8)
        {
            self.answerPolicyFileRequest()
            return
        }
        self.requestParser.append(bytes)
        self.processRequests()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.needsFlush && !self.flushQueued {
            self.flushQueued = true
            self.loop.flushAtEndOfTick(self)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        let isWritable = context.channel.isWritable
        self.machine.writabilityChanged(isWritable: isWritable)
        if isWritable {
            if let subscriber = self.subscriber {
                subscriber.outputBecameWritable()
            } else {
                self.continueAfterAnswer()
            }
            self.resumeReadingIfHeld()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        switch self.machine.readRequested(bufferedInput: self.parser?.bufferedBytes ?? 0) {
        case .read: context.read()
        case .hold: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.server.logger.debug("connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Requests

    /// Answers the buffered requests in order, as long as the state machine lets it.
    private func processRequests() {
        guard !self.isProcessing else { return }
        self.isProcessing = true
        defer { self.isProcessing = false }
        while self.machine.mayAnswerNextRequest, let parser = self.parser {
            let event: HTTPRequestParser.Event
            do {
                event = try parser.next()
            } catch {
                self.refuseUnreadable(error)
                return
            }
            switch event {
            case .needMoreData:
                self.machine.awaitingInput(partial: parser.hasPartialRequest, tick: self.loop.tick)
                self.resumeReadingIfHeld()
                return
            case .continueRequired:
                self.write(Self.continueResponse)
            case .request(let request):
                self.machine.requestReceived()
                self.loop.counters.requests += 1
                self.perform(self.dispatcher.dispatch(request), request)
            }
        }
    }

    /// The dispatcher for this connection's requests.
    private var dispatcher: RequestDispatcher {
        // (The channel's address, which NIO keeps: the context's asks the kernel
        // and formats the address, a system call and a `sprintf` per request.)
        RequestDispatcher(server: self.server, listener: self.listener, peer: self.context?.channel.remoteAddress)
    }

    /// Does what the dispatcher decided for `request`.
    private func perform(_ dispatch: RequestDispatcher.Dispatch, _ request: HTTPRequest) {
        guard let context = self.context else { return }
        switch dispatch {
        case .respond(let response):
            self.respond(response, to: request.head)
        case .publish(let publish, let headers):
            self.loop.counters.publishes += 1
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            self.server.engine.publish(
                publish.payload,
                isBinary: publish.isBinary,
                to: publish.channel,
                on: context.eventLoop
            ) {
                handler.value.published($0, publish, headers)
            }
        case .subscribe(let plan):
            self.startStream(plan, request.head)
        case .upgrade(let upgrade):
            self.upgradeToWebSocket(upgrade, context: context)
        case .admin(let route, let headers):
            self.answerAdmin(route, request, headers: headers)
        case .verify(let token):
            self.server.access.verify(token: token, on: self.loop.taskExecutor).assumeIsolated().whenSuccess {
                result in
                guard case .answering = self.machine.state else { return }
                switch result {
                case .success(let token):
                    let dispatch = self.dispatcher.dispatch(request, verified: token)
                    self.perform(dispatch, request)
                case .failure(let error):
                    self.respond(.refusal(error), to: request.head)
                }
                self.continueAfterAnswer()
            }
        }
    }

    /// The engine stored (or refused) a publish: answer it, then go on with the next request.
    private func published(
        _ result: Result<UInt64, EngineError>,
        _ publish: PublishResponder.Publish,
        _ headers: [(String, String)]
    ) {
        guard case .answering = self.machine.state else { return }
        switch result {
        case .success(let seq):
            self.respond(PublishResponder.response(seq: seq, for: publish, headers: headers), to: publish.head)
        case .failure(let error):
            self.respond(.refusal(.unavailable(error.description), headers: headers), to: publish.head)
        }
        self.continueAfterAnswer()
    }

    private func answerAdmin(_ route: Route, _ request: HTTPRequest, headers: [(String, String)]) {
        guard let context = self.context else { return }
        let answer: EventLoopFuture<AdminResponder.Answer>
        do {
            answer = try AdminResponder.respond(to: route, request: request, server: self.server, on: context.eventLoop)
        } catch {
            self.respond(.refusal(error, headers: headers), to: request.head)
            return
        }
        answer.assumeIsolated().whenComplete { result in
            guard case .answering = self.machine.state else { return }
            switch result {
            case .success(.document(let contentType, let body)):
                let response = HTTPResponse(status: .ok, contentType: contentType, headers: headers, body: body)
                self.respond(response, to: request.head)
            case .success(.refused(let error)):
                self.respond(.refusal(error, headers: headers), to: request.head)
            case .failure(let error):
                let refusal = (error as? EngineError).map { RequestError.unavailable($0.description) }
                self.respond(.refusal(refusal ?? .internalError(), headers: headers), to: request.head)
            }
            self.continueAfterAnswer()
        }
    }

    /// Writes a complete answer; the connection then waits for the next request or closes.
    private func respond(_ response: HTTPResponse, to head: HTTPRequestHead) {
        guard let context = self.context else { return }
        if response.status.code >= 400 {
            if response.status.code < 500 { self.loop.counters.badRequests += 1 }
            self.logRefusal(response)
        }
        let keepAlive = self.machine.keepsAlive(head.keepAlive && !response.closesConnection)
        HTTPResponseWriter.serialize(
            response,
            isHTTP10: head.isHTTP10,
            omitsBody: head.method == .head,
            keepAlive: keepAlive,
            allocator: context.channel.allocator,
            write: self.write
        )
        if self.machine.answered(keepAlive: keepAlive, tick: self.loop.tick) {
            self.closeAfterWrites()
        }
    }

    /// The bytes are not a request River can read: answer why, then close.
    private func refuseUnreadable(_ error: HTTPParseError) {
        guard let context = self.context else { return }
        self.loop.counters.badRequests += 1
        let response = HTTPResponse.refusal(.unreadable(error), closesConnection: true)
        self.logRefusal(response)
        self.machine.requestFailed(tick: self.loop.tick)
        HTTPResponseWriter.serialize(
            response,
            isHTTP10: false,
            omitsBody: false,
            keepAlive: false,
            allocator: context.channel.allocator,
            write: self.write
        )
        self.closeAfterWrites()
    }

    private func logRefusal(_ response: HTTPResponse) {
        self.server.logger.debug(
            "refused request",
            metadata: [
                "status": "\(response.status.code)", "reason": "\(String(buffer: response.body).prefix(200))",
                "peer": "\(self.context?.channel.remoteAddress?.description ?? "?")",
            ]
        )
    }

    /// After an answer computed elsewhere: answer what queued up meanwhile, flush, resume reading.
    private func continueAfterAnswer() {
        guard !self.isProcessing else { return }
        self.processRequests()
        self.flushIfNeeded()
    }

    /// The parser, made on first use.
    private var requestParser: HTTPRequestParser {
        if let parser = self.parser { return parser }
        let parser = HTTPRequestParser(limits: self.server.parserLimits)
        self.parser = parser
        return parser
    }

    // MARK: - The Flash policy

    private static let policyFileRequest = "<policy-file-request/>"

    /// The Flash socket policy, for a raw `<policy-file-request/>` NUL on the port.
    private func answerPolicyFileRequest() {
        var answer = self.server.staticFiles.file("crossdomain.xml")?.body ?? ByteBuffer(string: Self.defaultPolicy)
        answer.writeInteger(UInt8(0))
        self.machine.requestFailed(tick: self.loop.tick)
        self.write(answer)
        self.closeAfterWrites()
    }

    private static let defaultPolicy =
        "<?xml version=\"1.0\"?><cross-domain-policy><allow-access-from domain=\"*\" to-ports=\"*\"/></cross-domain-policy>"

    // MARK: - Output

    func write(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(bytes), promise: nil)
        self.needsFlush = true
    }

    private func flushIfNeeded() {
        guard self.needsFlush, let context = self.context else { return }
        self.needsFlush = false
        context.flush()
    }

    /// Flushes what was written, then closes. When input is still unread (a
    /// refused body, pipelined junk) only our side closes first, and the
    /// socket when the peer closes or two ticks later: closing with unread
    /// input would reset the connection and the peer could lose the answer.
    private func closeAfterWrites() {
        guard let context = self.context else { return }
        self.machine.closing(tick: self.loop.tick)
        self.needsFlush = false
        let unreadInput = self.parser?.hasPartialRequest ?? false
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            channel.close(mode: unreadInput ? .output : .all, promise: nil)
        }
    }

    private func resumeReadingIfHeld() {
        if self.machine.resumeReading() { self.context?.read() }
    }

    private func connectionClosed() {
        guard self.machine.closed() else { return }
        if self.holdsConnectionSlot {
            self.holdsConnectionSlot = false
            self.server.limiter.release()
        }
        self.subscriber?.detach()
        self.subscriber = nil
        self.pendingStreamHead = nil
    }
}

// MARK: - Streams

extension HTTPConnectionHandler: SubscriberOutput {
    /// Starts a subscription carried by this response; a stream then owns the
    /// connection (its parser and buffered input are dropped), a long-poll hands it back.
    private func startStream(_ plan: SubscriptionPlan, _ head: HTTPRequestHead) {
        let subscriber = StreamSubscriber(
            channel: plan.channel,
            framing: plan.framing,
            endsAfterFirstBatch: plan.endsAfterFirstBatch,
            loop: self.loop
        )
        var streamHead = self.allocator.buffer(capacity: 256)
        let chunked = plan.framing.isChunked
        self.streamKeepsAlive = chunked && head.keepAlive
        HTTPResponseWriter.writeHead(
            status: .ok,
            contentType: plan.framing.contentType,
            framing: chunked ? .chunked : .close,
            keepAlive: self.machine.keepsAlive(self.streamKeepsAlive),
            isHTTP10: head.isHTTP10,
            extraHeaders: plan.headers,
            into: &streamHead
        )
        self.pendingStreamHead = PendingHead(streamHead)
        self.subscriber = subscriber
        self.machine.streamStarted(ignoresInput: !plan.endsAfterFirstBatch)
        if !plan.endsAfterFirstBatch { self.parser = nil }
        subscriber.start(from: plan.resume, writingTo: self)
    }

    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }

    /// Kept by the state machine from `channelWritabilityChanged`: no atomic load per message.
    var isWritable: Bool { self.machine.isWritable && self.context != nil }

    func flush() {
        self.flushIfNeeded()
    }

    func streamWillStart() {
        if let head = self.pendingStreamHead {
            self.pendingStreamHead = nil
            self.write(head.bytes)
        }
    }

    func streamDidEnd(_ end: StreamEnd) {
        self.subscriber = nil
        self.pendingStreamHead = nil
        switch end {
        case .completed(let reusable):
            if self.machine.streamEnded(reusable: reusable && self.streamKeepsAlive, tick: self.loop.tick) {
                self.closeAfterWrites()
            } else {
                self.continueAfterAnswer()
            }
        case .cut:
            self.machine.closing(tick: self.loop.tick)
            self.context?.close(promise: nil)
        case .refused(let error):
            guard let context = self.context else { return }
            _ = self.machine.streamEnded(reusable: false, tick: self.loop.tick)
            HTTPResponseWriter.serialize(
                .refusal(error),
                isHTTP10: false,
                omitsBody: false,
                keepAlive: false,
                allocator: context.channel.allocator,
                write: self.write
            )
            self.closeAfterWrites()
        }
    }
}

// MARK: - WebSocket

extension HTTPConnectionHandler {
    /// Answers the handshake, then hands the connection to a
    /// `WebSocketConnectionHandler` behind NIOWebSocket's frame decoder, a
    /// `WebSocketFrameChecker` and NIOWebSocket's fragment aggregator.
    private func upgradeToWebSocket(_ upgrade: WebSocketUpgrade, context: ChannelHandlerContext) {
        var headers = upgrade.headers
        if let deflate = upgrade.deflate { headers.append(("Sec-WebSocket-Extensions", deflate.response)) }
        let response = WebSocketHandshake.response(
            key: upgrade.key,
            extraHeaders: headers,
            allocator: context.channel.allocator
        )
        context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        self.needsFlush = false
        self.machine.closing(tick: self.loop.tick)
        let pending = self.parser?.takeBufferedBytes()
        self.parser = nil
        self.holdsConnectionSlot = false  // the WebSocket handler gives it back
        do {
            let maxMessageSize = self.server.configuration.maxMessageSize
            let checker = WebSocketFrameChecker(compressionNegotiated: upgrade.deflate != nil)
            try context.pipeline.syncOperations.addHandlers(
                [
                    ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageSize)),
                    checker,
                    NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 0,
                        maxAccumulatedFrameCount: WebSocketFrameChecker.maxFragments,
                        maxAccumulatedFrameSize: maxMessageSize
                    ),
                    WebSocketConnectionHandler(upgrade, checker: checker, server: self.server, loop: self.loop),
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
}

// MARK: - Timeouts and shutdown

extension HTTPConnectionHandler: ManagedConnection {
    func flushQueuedWrites() {
        self.flushQueued = false
        self.flushIfNeeded()
    }

    func sweep(tick: UInt64) {
        switch self.machine.tick(tick, self.loop.timeouts) {
        case .none:
            break
        case .close:
            self.context?.close(promise: nil)
        case .timeOutRequest:
            guard let context = self.context else { return }
            HTTPResponseWriter.serialize(
                .refusal(.requestTimeout()),
                isHTTP10: false,
                omitsBody: false,
                keepAlive: false,
                allocator: context.channel.allocator,
                write: self.write
            )
            self.closeAfterWrites()
        case .tickStream:
            self.subscriber?.tick(tick, self.loop.timeouts)
        }
    }

    func quiesce() {
        switch self.machine.quiesce() {
        case .none: break
        case .close: self.context?.close(promise: nil)
        case .finishStream: self.subscriber?.finish(.shutdown)
        }
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTPConnectionHandler: Sendable {}
