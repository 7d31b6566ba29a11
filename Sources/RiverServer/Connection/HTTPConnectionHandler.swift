import NIOCore
import RiverCore

/// One HTTP/1.1 client connection. It parses requests (pipelined ones in
/// order), lets the `RequestDispatcher` decide what each is, and performs
/// that: writes answers, publishes, carries a `StreamSubscriber`'s stream
/// (`+Streams`), or hands the connection to the WebSocket handlers
/// (`+Upgrade`). Every decision — when to read, to answer, to keep the
/// connection, to time out, to close — is its `StateMachine`'s; this class
/// only performs the actions.
///
/// It keeps its context only while it is in the pipeline: everything it made
/// is freed when the connection closes.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // (Pointers first, flags last: the object stays small, and a parked stream is what a server holds most of.)
    let server: ServerContext
    unowned let loop: ServerLoop
    var context: ChannelHandlerContext?
    /// Request parsing state; made on first use, dropped while the connection only streams out.
    var parser: HTTPRequestParser?
    var subscriber: StreamSubscriber?
    /// With `auth_url`: when the stream's decisions are asked about again.
    var renewal: Scheduled<Void>?
    /// The dashboard's samples this connection carries instead (`/stats/stream`).
    var statsStream: StatsStream?
    /// The head of the stream being started, written once its subscription is established.
    var pendingStreamHead: ByteBuffer?
    var registryIndex = -1
    var machine: StateMachine
    private let listener: ListenerRole
    /// This connection's place under `max_connections` (a WebSocket upgrade
    /// hands it on); nil on an HTTP/2 stream, whose connection holds it.
    var slot: ConnectionSlot?
    /// Serving one stream of an HTTP/2 connection (whose connection holds the slot).
    let isHTTP2Stream: Bool
    var pendingFlush = PendingFlush()

    private static let continueResponse = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")

    init(
        server: ServerContext,
        loop: ServerLoop,
        listener: ListenerRole,
        slot: consuming ConnectionSlot?,
        isHTTP2Stream: Bool = false
    ) {
        self.server = server
        self.loop = loop
        self.listener = listener
        self.slot = slot
        self.isHTTP2Stream = isHTTP2Stream
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
        let bytes = self.unwrapInboundIn(data)
        let action = self.machine.inputReceived(
            tick: self.loop.tick,
            isPolicyFileRequest: bytes.readableBytesView.starts(with: Self.policyFileRequest.utf8)
        )
        switch action {
        case .discard:
            break
        case .answerPolicyFile:
            self.answerPolicyFileRequest()
        case .parse:
            self.requestParser.append(bytes)
            self.processRequests()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.pendingFlush.burstEnded() {
            self.loop.flushAtEndOfTick(self)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        switch self.machine.writabilityChanged(isWritable: context.channel.isWritable) {
        case .none: break
        case .resumeStream: self.subscriber?.outputBecameWritable()
        case .resumeRequests: self.continueAfterAnswer()
        }
        self.resumeReadingIfHeld()
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

    /// Answers the buffered requests in order, as long as the state machine
    /// lets it. False when requests are already being answered further up the
    /// stack (that loop goes on, and flushes, when this returns).
    @discardableResult
    func processRequests() -> Bool {
        switch self.machine.processingWanted() {
        case .alreadyProcessing: return false
        case .stop: return true
        case .parseNext: break
        }
        repeat {
            guard let parser = self.parser else {
                self.perform(self.machine.needMoreInput(partial: false, tick: self.loop.tick))
                return true
            }
            let event: HTTPRequestParser.Event
            do {
                event = try parser.next()
            } catch {
                switch self.machine.requestUnreadable(tick: self.loop.tick) {
                case .refuseAndClose: self.refuseAndClose(.unreadable(error))
                }
                return true
            }
            switch event {
            case .needMoreData:
                self.perform(self.machine.needMoreInput(partial: parser.hasPartialRequest, tick: self.loop.tick))
                return true
            case .continueRequired:
                switch self.machine.continueRequired() {
                case .writeContinue: self.write(Self.continueResponse)
                }
            case .request(let request):
                switch self.machine.requestReceived(keepAlive: request.head.keepAlive) {
                case .dispatch:
                    self.loop.counters.requests += 1
                    self.perform(self.dispatcher.dispatch(request), request)
                }
            }
        } while self.machine.requestHandled() == .parseNext
        return true
    }

    private func perform(_ action: StateMachine.NeedInputAction) {
        switch action {
        case .none: break
        case .resumeReading: self.context?.read()
        }
    }

    /// The dispatcher for this connection's requests.
    private var dispatcher: RequestDispatcher {
        // (The channel's address, which NIO keeps: the context's asks the kernel
        // and formats the address, a system call and a `sprintf` per request.)
        RequestDispatcher(server: self.server, listener: self.listener, peer: self.context?.channel.remoteAddress)
    }

    /// Does what the dispatcher decided for `request`.
    private func perform(_ dispatch: RequestDispatcher.Dispatch, _ request: ParsedRequest) {
        guard let context = self.context else { return }
        switch dispatch {
        case .respond(let response):
            self.respond(response, to: request.head)
        case .publish(let publish, let headers):
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            PublishResponder.store(
                publish,
                headers: headers,
                server: self.server,
                loop: self.loop,
                on: context.eventLoop
            ) {
                response in
                handler.value.respond(response, to: publish.head)
                handler.value.continueAfterAnswer()
            }
        case .subscribe(let plan):
            self.startStream(plan, request.head)
        case .upgrade(let upgrade):
            self.upgradeToWebSocket(upgrade, context: context)
        case .watchStats(let headers):
            self.startStatsStream(request.head, headers: headers)
        case .admin(let route, let headers):
            self.answerAdmin(route, request, headers: headers)
        case .presence(let channel, let headers):
            self.answerPresence(channel, request, headers: headers)
        case .verify(let token):
            self.server.access.verify(token: token, on: self.loop.taskExecutor).assumeIsolated().whenSuccess {
                result in
                guard case .proceed = self.machine.deferredAnswerReady() else { return }
                switch result {
                case .success(let token):
                    if let channel = self.context?.channel { self.loop.verified.add(channel, openedBy: token) }
                    self.perform(self.dispatcher.dispatch(request, verified: token), request)
                case .failure(let error):
                    self.respond(.refusal(error), to: request.head)
                }
                self.continueAfterAnswer()
            }
        case .authorize(let question, let verified):
            guard let authorizer = self.server.authorizer else { return }
            authorizer.decide(question, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
                guard case .proceed = self.machine.deferredAnswerReady() else { return }
                switch result {
                case .success(let outcome):
                    self.perform(self.dispatcher.dispatch(request, verified: verified, decided: outcome), request)
                case .failure(let error):
                    self.respond(.refusal(error), to: request.head)
                }
                self.continueAfterAnswer()
            }
        }
    }

    /// Writes a complete answer; the connection then waits for the next request or closes.
    func respond(_ response: CompleteResponse, to head: ParsedRequestHead) {
        guard
            case .write(let keepAlive) = self.machine.answerReady(
                closesConnection: response.closesConnection,
                tick: self.loop.tick
            )
        else { return }
        self.writeResponse(response, isHTTP10: head.isHTTP10, omitsBody: head.method == .head, keepAlive: keepAlive)
        if !keepAlive { self.closeAfterWrites() }
    }

    /// Answers a request that cannot be served (unreadable, too slow, a refused
    /// stream) and closes: the connection's state is already `closing`.
    func refuseAndClose(_ error: RequestError) {
        self.writeResponse(.refusal(error, closesConnection: true), isHTTP10: false, omitsBody: false, keepAlive: false)
        self.closeAfterWrites()
    }

    private func writeResponse(_ response: CompleteResponse, isHTTP10: Bool, omitsBody: Bool, keepAlive: Bool) {
        guard let context = self.context else { return }
        if response.status.code >= 400 {
            if response.status.code < 500 { self.loop.counters.badRequests += 1 }
            self.server.logger.debug(
                "refused request",
                metadata: [
                    "status": "\(response.status.code)", "reason": "\(String(buffer: response.body).prefix(200))",
                    "peer": "\(context.channel.remoteAddress?.description ?? "?")",
                ]
            )
        }
        HTTP1ResponseWriter.serialize(
            response,
            isHTTP10: isHTTP10,
            omitsBody: omitsBody,
            keepAlive: keepAlive,
            allocator: context.channel.allocator,
            write: self.write
        )
    }

    /// After an answer computed elsewhere: answer what queued up meanwhile, flush, resume reading.
    func continueAfterAnswer() {
        guard self.processRequests() else { return }
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
        self.write(answer)
        self.closeAfterWrites()
    }

    private static let defaultPolicy =
        "<?xml version=\"1.0\"?><cross-domain-policy><allow-access-from domain=\"*\" to-ports=\"*\"/></cross-domain-policy>"

    // MARK: - Output

    func write(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(self.wrapOutboundOut(bytes), promise: nil)
        self.pendingFlush.wrote()
    }

    func flushIfNeeded() {
        guard self.pendingFlush.flushNow(), let context = self.context else { return }
        context.flush()
    }

    /// Flushes what was written, then closes. When input is still unread (a
    /// refused body, pipelined junk) only our side closes first, and the
    /// socket when the peer closes or two ticks later: closing with unread
    /// input would reset the connection and the peer could lose the answer.
    func closeAfterWrites() {
        guard let context = self.context else { return }
        self.pendingFlush.flushed()
        let unreadInput = self.parser?.hasPartialRequest ?? false
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            channel.close(mode: unreadInput ? .output : .all, promise: nil)
        }
    }

    func resumeReadingIfHeld() {
        self.perform(self.machine.resumeReading())
    }

    private func connectionClosed() {
        switch self.machine.closed() {
        case .none:
            break
        case .cleanUp:
            self.slot.take()?.release()
            self.subscriber?.detach()
            self.subscriber = nil
            self.statsStream?.detach()
            self.statsStream = nil
            self.pendingStreamHead = nil
            self.renewal?.cancel()
            self.renewal = nil
        }
    }
}

// MARK: - Timeouts and shutdown

extension HTTPConnectionHandler: ManagedConnection {
    func flushQueuedWrites() {
        guard self.pendingFlush.queuedFlushDue() else { return }
        self.context?.flush()
    }

    func sweep(tick: UInt64) {
        switch self.machine.tick(tick, self.loop.timeouts) {
        case .none: break
        case .close: self.context?.close(promise: nil)
        case .timeOutRequest:
            self.recordCut(.timeout, transport: "http", detail: "request not read within read_timeout")
            self.refuseAndClose(.requestTimeout())
        case .tickStream:
            self.subscriber?.tick(tick, self.loop.timeouts)
            self.statsStream?.tick(tick)
        }
    }

    func quiesce() {
        switch self.machine.quiesce() {
        case .none: break
        case .close: self.context?.close(promise: nil)
        case .finishStream:
            self.subscriber?.finish(.shutdown)
            self.statsStream?.finish()
        }
    }

    func terminate() {
        self.context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTPConnectionHandler: Sendable {}
