import NIOCore
import RiverCore

/// An accepted WebSocket handshake, and what the connection speaks after it.
struct WebSocketUpgrade {
    /// What the client's messages mean.
    enum Mode {
        /// Part A: the connection subscribes to `channel` from `resume` (as
        /// `member`, for presence); each message is published to it
        /// (`mayPublish`: the handshake's credentials allow that; with
        /// `auth_url`, `consent` asks the application about each), bodies or
        /// river JSON per `format`.
        case channel(
            ChannelName,
            resume: ResumePoint,
            member: PresenceMember?,
            mayPublish: Bool,
            format: MessageFormat,
            consent: ApplicationConsent?
        )
        /// `river.v2` (PROTOCOL.md C2): JSON commands, acknowledged by id, for any channels.
        case commands(CommandSession)
    }

    let key: String
    let mode: Mode
    /// permessage-deflate, when the client offered it in a form River accepts.
    let deflate: PerMessageDeflateNegotiation?
    /// Extra fields of the 101 answer (CORS, the subprotocol).
    let headers: [(String, String)]
}

/// With `auth_url`, what a Part A socket keeps of its handshake: who asks the application
/// about each message it publishes, and the decision its subscription was opened with (asked
/// again when it expires).
struct ApplicationConsent {
    let asker: AuthAsker
    let subscribed: AuthOutcome
}

/// What a `river.v2` connection keeps of its handshake to decide each command:
/// its credentials (a command may add a token of its own), its origin, and
/// the token the handshake presented, verified.
struct CommandSession {
    let credentials: Credentials
    let origin: String?
    let verified: AccessToken?
    /// With `auth_url`: who asks the application, command after command.
    let asker: AuthAsker?
}

extension RequestDispatcher {
    /// A WebSocket handshake: valid, and allowed. Part A's socket must be
    /// allowed to subscribe to its channel (one without the right to publish
    /// still subscribes; its frames are refused with 1008; with `auth_url` the
    /// application is asked about each frame as well); a `river.v2`
    /// socket is checked command by command, but wrong credentials are refused now.
    func upgrade(
        _ request: ParsedRequest,
        verified: AccessToken?,
        decided: AuthOutcome?,
        headers: [(String, String)]
    ) throws(RequestError) -> Dispatch {
        let head = request.head
        let key = try WebSocketHandshake.validate(head)
        let deflate = PerMessageDeflateNegotiation(offers: head.webSocketExtensions)
        let access = self.server.access
        if WebSocketHandshake.offersCommands(head) {
            let credentials = try Credentials(request)
            if let token = credentials.token, verified == nil, access.checksTokens {
                return .verify(token: token)
            }
            if let secret = credentials.secret, let expected = access.publishSecret, !expected.matches(secret) {
                throw .forbidden("wrong publish secret")
            }
            // With `auth_url`, the application decides whether the connection may open (403 if not).
            var asker: AuthAsker?
            if self.server.authorizer != nil {
                asker = try self.asker(request, "river.v2", verified)
            }
            switch try self.consult(
                decided,
                verified: verified,
                { () throws(RequestError) -> AuthQuestion in
                    asker!.question(.connect, channels: [])
                }
            ) {
            case .ask(let next): return next
            case .notConfigured: break
            case .decided(let outcome):
                if let decision = outcome.connection, !decision.allowed { throw decision.refusal(nil) }
            }
            let session = CommandSession(
                credentials: credentials,
                origin: head.origin,
                verified: verified,
                asker: asker
            )
            return .upgrade(
                WebSocketUpgrade(
                    key: key,
                    mode: .commands(session),
                    deflate: deflate,
                    headers: headers + [("Sec-WebSocket-Protocol", WebSocketHandshake.commandProtocol)]
                )
            )
        }
        let parameters = RequestParameters(query: head.query)
        let channel = try parameters.channelName(maxBytes: self.server.configuration.maxChannelName)
        let resume = try SubscribeRequest.resumePoint(seq: try parameters.unsignedInteger("seq"), parameters)
        let format = try MessageFormat(parameters)
        let subscribing = try access.decide(.subscribe, channel: channel, request: request, verified: verified)
        let publishing = try access.decide(.publish, channel: channel, request: request, verified: verified)
        switch (subscribing, publishing) {
        case (.verify(let token), _), (_, .verify(let token)):
            return .verify(token: token)
        case (.denied(let error), _):
            throw error
        case (_, .denied(let error)) where verified == nil && error.status == .forbidden:
            throw error
        default:
            break
        }
        // A token presented says who subscribes, for presence: it is verified even on public channels.
        if verified == nil, let token = try access.identityToken(request, .subscribe) {
            return .verify(token: token)
        }
        var member = try verified?.presenceMember()
        var consent: ApplicationConsent?
        switch try self.consult(
            decided,
            verified: verified,
            { () throws(RequestError) -> AuthQuestion in
                try self.asker(request, "websocket", verified).question(.subscribe, channels: [channel])
            }
        ) {
        case .ask(let next): return next
        case .notConfigured: break
        case .decided(let outcome):
            if let refusal = outcome.refusal([channel]) { throw refusal }
            member = outcome.member([channel]) ?? member
            consent = ApplicationConsent(asker: try self.asker(request, "websocket", verified), subscribed: outcome)
        }
        // (With `auth_url`, the application is asked about each message too: `consent`.)
        let mayPublish = if case .allowed = publishing { true } else { false }
        return .upgrade(
            WebSocketUpgrade(
                key: key,
                mode: .channel(
                    channel,
                    resume: resume,
                    member: member,
                    mayPublish: mayPublish,
                    format: format,
                    consent: consent
                ),
                deflate: deflate,
                headers: headers
            )
        )
    }
}
