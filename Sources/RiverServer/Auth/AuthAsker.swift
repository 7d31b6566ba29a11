import NIOCore
import RiverCore

/// Who asks the application, as a request presents itself: the header
/// fields `auth_headers` names (lower-case, in a fixed order; repeated
/// fields joined), the token and its verified claims, the client's address,
/// origin and transport. A `river.v2` connection keeps its handshake's and
/// asks with it command after command.
///
/// A cookie is the browser's, sent whichever site asks, so it goes to the
/// application only where River itself would honour one (`AccessPolicy`):
/// for reading, never as a script (JSONP), only from an origin
/// `CORSPolicy.trustsCookies(from:)` accepts — never for a publish. Without
/// it the application sees an anonymous client, and the question has
/// another fingerprint than the cookie holder's: their decisions never mix.
struct AuthAsker: Sendable {
    let client: AuthQuestion.Client
    /// Every forwarded field, the cookie included when the origin is trusted.
    let headers: [(name: String, value: String)]
    /// The token in a parameter or `Authorization: Bearer` (a `token` a command carries replaces it).
    var token: String?
    /// The claims of `token`, when River verified it.
    var claims: JSONValue?

    /// The asker behind `request` on `transport` (`stream`, `long-poll`, `jsonp`, `sse`, `websocket`, `river.v2`, `publish`, `presence`).
    init(
        _ request: ParsedRequest,
        transport: String,
        peer: SocketAddress?,
        verified: AccessToken?,
        configuration: RiverConfiguration
    ) throws(RequestError) {
        let head = request.head
        let cookieHonoured = transport != "jsonp" && configuration.allowedOrigins.trustsCookies(from: head.origin)
        var headers: [(name: String, value: String)] = []
        for name in configuration.authHeaders {
            let value: String?
            switch name {
            case "cookie": value = cookieHonoured ? head.cookie : nil
            case "authorization": value = head.authorization
            default:
                let values = head.keptFields.filter { $0.name == name }.map(\.value)
                value = values.isEmpty ? nil : values.joined(separator: ", ")
            }
            if let value { headers.append((name, value)) }
        }
        self.headers = headers
        self.client = AuthQuestion.Client(address: peer?.ipAddress, origin: head.origin, transport: transport)
        self.token = try Credentials(request).token
        self.claims = verified?.claims
    }

    /// The question about `channels` (a publish: with its message).
    func question(
        _ action: AuthQuestion.Action,
        channels: [ChannelName],
        data: ByteBuffer? = nil,
        isBinary: Bool = false
    ) -> AuthQuestion {
        AuthQuestion(
            action: action,
            channels: channels,
            data: data,
            isBinary: isBinary,
            client: self.client,
            headers: action == .publish ? self.headers.filter { $0.name != "cookie" } : self.headers,
            token: self.token,
            claims: self.claims
        )
    }

    /// The same asker with the token a `river.v2` command carries (and its claims once verified).
    func presenting(_ token: String?, claims: JSONValue?) -> AuthAsker {
        guard let token else { return self }
        var asker = self
        asker.token = token
        asker.claims = claims
        return asker
    }
}
