import NIOCore
import RiverCore

/// Decides what a complete request is, with no I/O: an answer now, or the
/// publish, subscription, WebSocket upgrade, admin query or token check the
/// connection must perform. Admission, CORS, routing and access control all
/// happen here, in that order, once per request.
///
/// It takes a parsed `ParsedRequest` and returns version-neutral values, so an
/// HTTP/2 stream can use it as HTTP/1.1 connections do.
struct RequestDispatcher {
    /// What the connection must do with a request.
    enum Dispatch {
        /// Answer at once.
        case respond(CompleteResponse)
        /// Store the message, then answer with its seq (`PublishResponder.response`).
        case publish(PublishResponder.Publish, headers: [(String, String)])
        /// Carry a subscription on this response.
        case subscribe(StreamPlan)
        /// Answer the WebSocket handshake and hand the connection to a `WebSocketConnectionHandler`.
        case upgrade(WebSocketUpgrade)
        /// Carry the dashboard's samples on this response (`StatsStream`).
        case watchStats(headers: [(String, String)])
        /// Ask the engine or the server, then answer (`AdminResponder`).
        case admin(Route, headers: [(String, String)])
        /// Ask the engine who is on the channel, then answer (`PresenceResponder`).
        case presence(ChannelName, headers: [(String, String)])
        /// Verify the request's token (asynchronously), then dispatch it again with the result.
        case verify(token: String)
        /// Ask the application (`auth_url`), then dispatch again with its outcome (and `verified` kept).
        case authorize(AuthQuestion, verified: AccessToken?)
    }

    let server: ServerContext
    /// Which routes this connection's listener serves.
    let listener: ListenerRole
    /// The connection's peer, which decides whether it is local (the admin routes without access control).
    let peer: SocketAddress?

    /// Dispatches `request`; `verified` is its token once `verify` accepted it,
    /// `decided` the application's outcome once `authorize` has it.
    func dispatch(_ request: ParsedRequest, verified: AccessToken? = nil, decided: AuthOutcome? = nil) -> Dispatch {
        let head = request.head
        var cors: [(String, String)] = []
        do throws(RequestError) {
            let policy = self.server.configuration.allowedOrigins
            if let origin = head.origin, !policy.allows(origin) {
                throw .forbidden("origin \(origin) is not allowed (allowed_origins)")
            }
            cors = policy.responseHeaders(for: head.origin)
            let route = self.listener.serves(Router.route(head.path))
            if head.method == .options && route != .notFound {
                // A preflight for any route, DELETE on /channels included.
                return .respond(
                    CompleteResponse(
                        status: .noContent,
                        headers: [("Allow", "GET, POST, OPTIONS")] + policy.preflightHeaders(for: head)
                    )
                )
            }
            switch route {
            case .publish:
                let publish = try PublishResponder.validate(request, configuration: self.server.configuration)
                let access = try self.server.access.decide(
                    .publish,
                    channel: publish.channel,
                    request: request,
                    verified: verified
                )
                if let next = try Self.gate(access) { return next }
                switch try self.consult(
                    decided,
                    verified: verified,
                    {
                        () throws(RequestError) -> AuthQuestion in
                        try self.asker(request, "publish", verified).question(
                            .publish,
                            channels: [publish.channel],
                            data: publish.payload,
                            isBinary: publish.isBinary
                        )
                    }
                ) {
                case .ask(let next): return next
                case .notConfigured: return .publish(publish, headers: cors)
                case .decided(let outcome):
                    if let refusal = outcome.refusal([publish.channel]) { throw refusal }
                    guard let replacement = outcome.replacement else { return .publish(publish, headers: cors) }
                    let replaced = PublishResponder.Publish(
                        channel: publish.channel,
                        payload: replacement.data,
                        isBinary: replacement.isBinary,
                        head: publish.head
                    )
                    return .publish(replaced, headers: cors)
                }
            case .subscribe, .eventSource:
                let subscribe = try SubscribeRequest(request, route: route, configuration: self.server.configuration)
                // Every channel is checked; one refused refuses the whole request, naming it.
                for start in subscribe.channels {
                    let access = try self.server.access.decide(
                        subscribe.accessAction,
                        channel: start.channel,
                        request: request,
                        verified: verified
                    )
                    if let next = try Self.gate(access) { return next }
                }
                // A token presented says who subscribes, for presence: it is verified even on public channels.
                if verified == nil, let token = try self.server.access.identityToken(request, subscribe.accessAction) {
                    return .verify(token: token)
                }
                var member = try verified?.presenceMember()
                let channels = subscribe.channels.map(\.channel)
                var asker: AuthAsker?  // (made once: the question and the renewal ask alike)
                switch try self.consult(
                    decided,
                    verified: verified,
                    {
                        () throws(RequestError) -> AuthQuestion in
                        let made = try self.asker(request, subscribe.authTransport, verified)
                        asker = made
                        return made.question(.subscribe, channels: channels)
                    }
                ) {
                case .ask(let next): return next
                case .notConfigured: break
                case .decided(let outcome):
                    if let refusal = outcome.refusal(channels) { throw refusal }
                    member = outcome.member(channels) ?? member
                    var plan = StreamPlan(subscribe.identified(as: member), head: head, headers: cors)
                    if asker == nil { asker = try self.asker(request, subscribe.authTransport, verified) }
                    plan.renewal = asker.flatMap { StreamRenewal($0, channels: channels, outcome) }
                    return .subscribe(plan)
                }
                return .subscribe(StreamPlan(subscribe.identified(as: member), head: head, headers: cors))
            case .webSocket:
                return try self.upgrade(request, verified: verified, decided: decided, headers: cors)
            case .presence:
                // Whoever may subscribe to a channel may see its presence; nobody else.
                let channel = try PresenceResponder.validate(request, configuration: self.server.configuration)
                let access = try self.server.access.decide(
                    .subscribe,
                    channel: channel,
                    request: request,
                    verified: verified
                )
                if let next = try Self.gate(access) { return next }
                switch try self.consult(
                    decided,
                    verified: verified,
                    {
                        () throws(RequestError) -> AuthQuestion in
                        try self.asker(request, "presence", verified).question(.subscribe, channels: [channel])
                    }
                ) {
                case .ask(let next): return next
                case .notConfigured: break
                case .decided(let outcome):
                    if let refusal = outcome.refusal([channel]) { throw refusal }
                }
                return .presence(channel, headers: cors)
            case .staticFile(let path):
                guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET, HEAD") }
                guard let file = self.server.staticFiles.file(path) else {
                    throw .notFound(head.path + " (static files not installed: set public_dir)")
                }
                let unchanged = head.ifNoneMatch == file.etag
                return .respond(
                    CompleteResponse(
                        status: unchanged ? .notModified : .ok,
                        contentType: unchanged ? nil : file.contentType,
                        headers: [("Cache-Control", "no-cache"), ("ETag", file.etag)] + cors,
                        body: unchanged ? ByteBuffer() : file.body
                    )
                )
            case .channel, .channelList, .userDisconnect, .tokenRevoke, .stats, .metrics:
                let source = RequestSource(peer: self.peer, listener: self.listener, head: head)
                try self.server.access.authorizeAdmin(request, source: source)
                return .admin(route, headers: cors)
            case .dashboard, .statsStream:
                cors = []  // not even a refusal is shown to another site
                return try self.dashboard(route, request)
            case .health:
                return .admin(route, headers: cors)
            case .notFound:
                throw .notFound(head.path)
            }
        } catch {
            return .respond(.refusal(error, headers: cors))
        }
    }

    /// `/dashboard` and `/stats/stream`: admin routes (same rule as `/stats`)
    /// that other web sites may neither read nor spend (no CORS; a request
    /// naming an `Origin`, which browsers send for cross-origin reads, is
    /// refused), and that exist only with the dashboard on.
    private func dashboard(_ route: Route, _ request: ParsedRequest) throws(RequestError) -> Dispatch {
        let head = request.head
        guard self.server.dashboard != nil else { throw .notFound(head.path + " (dashboard is off)") }
        if route == .statsStream {
            guard head.method == .get else { throw .methodNotAllowed("GET") }
        } else {
            guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET, HEAD") }
        }
        guard head.origin == nil else {
            throw .forbidden("the dashboard is not served to other web sites (request has an Origin)")
        }
        let source = RequestSource(peer: self.peer, listener: self.listener, head: head)
        try self.server.access.authorizeAdmin(request, source: source)
        if route == .statsStream { return .watchStats(headers: DashboardPage.securityHeaders) }
        return .respond(DashboardPage.response)
    }

    /// Nil when access is allowed; the token check to make first; or the refusal.
    static func gate(_ decision: AccessPolicy.Decision) throws(RequestError) -> Dispatch? {
        switch decision {
        case .allowed: return nil
        case .denied(let error): throw error
        case .verify(let token): return .verify(token: token)
        }
    }
}

/// A subscription over an HTTP response, as the dispatcher decided it.
struct StreamPlan {
    let channels: [ChannelStart]
    let framing: StreamFraming
    /// Long-poll: the response ends after its first message or catch-up batch.
    let endsAfterFirstBatch: Bool
    /// The response head's fields besides Content-Type and framing.
    let headers: [(String, String)]
    /// With `auth_url`: what to ask again when the application's decisions expire.
    var renewal: StreamRenewal?

    init(_ request: SubscribeRequest, head: ParsedRequestHead, headers: [(String, String)]) {
        self.channels = request.channels
        switch request.transport {
        case .stream(_, let callback) where request.format == .river:
            self.framing = .river(chunked: !head.isHTTP10, callback: callback)
        case .stream: self.framing = .raw(chunked: !head.isHTTP10)
        case .eventStream where request.channels.count > 1: self.framing = .eventStreamOfChannels(CursorLine())
        case .eventStream: self.framing = .eventStream
        }
        self.endsAfterFirstBatch = !request.keep
        self.headers =
            [
                ("Cache-Control", "no-cache, no-store"), ("X-Accel-Buffering", "no"),
                ("X-Content-Type-Options", "nosniff"),
            ] + headers
    }
}
