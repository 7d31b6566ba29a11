import NIOCore
import RiverCore

/// Who may publish, subscribe and administer. Off by default; each key turns
/// a part on:
///
/// - `publish_secret`: publishing (HTTP and WebSocket frames) needs it, as
///   `X-River-Secret` or `secret=`;
/// - `token_secret` (HS256), `token_public_key` (RS256, ES256 or EdDSA):
///   signed tokens (`TokenVerifier`, `AccessToken`) may be presented instead,
///   as `token=` or `Authorization: Bearer` (and, for reading only, the
///   `river_token` cookie); publishing then needs a token or the secret;
/// - `private_prefix`: subscribing to channels whose name starts with these
///   bytes needs a token covering them;
/// - `admin_secret`: opens the admin routes (else `publish_secret` does).
///
/// A cookie is sent by the browser whichever site asks, so it authorizes
/// reading only — never JSONP (a script any page may include), and only from
/// origins `allowed_origins` lists by name — and never publishing or admin
/// (cross-site request forgery). With any access control configured, the
/// admin routes (`/channels`, `/stats`, `/metrics`) need the admin
/// credential; with none, they answer only local clients and the admin
/// listener. Missing credentials are 401, wrong or insufficient ones 403.
struct AccessPolicy: Sendable {
    /// What a request asks to do with a channel.
    enum Action: Sendable, Equatable {
        case publish
        /// Reading through a response browsers show only to allowed origins
        /// (streams, long-polls, SSE, WebSocket).
        case subscribe
        /// Reading as a script (JSONP): any page may include it, so a cookie never counts.
        case subscribeAsScript
    }

    /// What a request needs before it may go on.
    enum Decision {
        case allowed
        case denied(RequestError)
        /// The token must be verified (asynchronously) and allow the action.
        case verify(token: String)
    }

    let publishSecret: Secret?
    let adminSecret: Secret?
    let privatePrefix: String?
    let cors: CORSPolicy
    /// The keys of `token_secret` and `token_public_key`; nil when tokens are off.
    private let tokens: TokenVerifier?
    /// The tokens `POST /tokens/revoke` named, refused until they expire.
    let revokedTokens = RevokedTokens()

    static let open = AccessPolicy(
        publishSecret: nil,
        adminSecret: nil,
        privatePrefix: nil,
        cors: .everyOrigin,
        tokens: nil
    )

    private init(
        publishSecret: Secret?,
        adminSecret: Secret?,
        privatePrefix: String?,
        cors: CORSPolicy,
        tokens: TokenVerifier?
    ) {
        self.publishSecret = publishSecret
        self.adminSecret = adminSecret
        self.privatePrefix = privatePrefix
        self.cors = cors
        self.tokens = tokens
    }

    /// The policy of a configuration (making the token verifiers is asynchronous).
    static func make(_ configuration: RiverConfiguration) async throws -> AccessPolicy {
        let tokens = try await TokenVerifier.make(
            secret: configuration.tokenSecret,
            publicKey: configuration.tokenPublicKey,
            rules: AccessToken.Rules(issuer: configuration.tokenIssuer, audience: configuration.tokenAudience)
        )
        return AccessPolicy(configuration, tokens: tokens)
    }

    /// The policy of a configuration without tokens (nothing to make).
    init(withoutTokens configuration: RiverConfiguration) {
        precondition(
            configuration.tokenSecret == nil && configuration.tokenPublicKey == nil,
            "tokens need AccessPolicy.make"
        )
        self.init(configuration, tokens: nil)
    }

    private init(_ configuration: RiverConfiguration, tokens: TokenVerifier?) {
        self.init(
            publishSecret: configuration.publishSecret,
            adminSecret: configuration.adminSecret,
            privatePrefix: configuration.privatePrefix,
            cors: configuration.allowedOrigins,
            tokens: tokens
        )
    }

    var restrictsPublishing: Bool { self.publishSecret != nil || self.tokens != nil }

    /// The token a subscribe request presents (by a header or parameter; a
    /// cookie where it authorizes reading), when tokens are on: it names the
    /// subscriber for presence.
    func identityToken(_ request: ParsedRequest, _ action: Action) throws(RequestError) -> String? {
        guard self.checksTokens else { return nil }
        let credentials = try Credentials(request)
        if let token = credentials.token { return token }
        guard action == .subscribe, self.cors.trustsCookies(from: request.head.origin) else { return nil }
        return credentials.cookieToken
    }

    /// Whether tokens are verified (`token_secret` or `token_public_key` is set).
    var checksTokens: Bool { self.tokens != nil }

    /// Seconds past `exp` a token is still accepted (the issuer's clock may be behind ours).
    var clockSkew: Int64 { self.tokens?.rules.clockSkew ?? AccessToken.Rules().clockSkew }

    /// Whether any access control is configured (then the admin routes always need credentials).
    var isConfigured: Bool {
        self.publishSecret != nil || self.adminSecret != nil || self.tokens != nil || self.privatePrefix != nil
    }

    /// One line for the start-up log: what is on, and who may use the admin routes.
    var summary: String {
        let admin =
            self.isConfigured
            ? (self.adminSecret != nil
                ? "need admin_secret" : self.publishSecret != nil ? "need publish_secret" : "closed (no admin_secret)")
            : "local clients and the admin listener only"
        return "publish_secret \(self.publishSecret == nil ? "off" : "on"), "
            + "admin_secret \(self.adminSecret == nil ? "off" : "on"), tokens \(self.tokenSummary), "
            + "private_prefix \(self.privatePrefix.map { "'\($0)'" } ?? "none"), admin routes: \(admin)"
    }

    /// Whether `request` may do `action` on `channel`, or what must be checked
    /// first. `verified` is the request's token once `verify` has accepted it.
    func decide(
        _ action: Action,
        channel: ChannelName,
        request: ParsedRequest,
        verified: AccessToken? = nil
    ) throws(RequestError) -> Decision {
        self.decide(
            action,
            channel: channel,
            credentials: try Credentials(request),
            origin: request.head.origin,
            verified: verified
        )
    }

    /// `decide` for credentials already read (a `river.v2` connection keeps its handshake's).
    func decide(
        _ action: Action,
        channel: ChannelName,
        credentials: Credentials,
        origin: String?,
        verified: AccessToken? = nil
    ) -> Decision {
        let decision: Decision
        switch action {
        case .publish:
            guard self.restrictsPublishing else { return .allowed }
            if let secret = credentials.secret, let expected = self.publishSecret {
                return expected.matches(secret) ? .allowed : .denied(.forbidden("wrong publish secret"))
            }
            guard let token = credentials.token, self.tokens != nil else {
                return .denied(
                    .unauthorized(
                        credentials.cookieToken == nil
                            ? "publishing needs the publish secret or a token"
                            : "publishing needs the publish secret or a token in a header or parameter, not a cookie"
                    )
                )
            }
            decision = .verify(token: token)
        case .subscribe, .subscribeAsScript:
            guard let prefix = self.privatePrefix, channel.hasPrefix(bytesOf: prefix) else { return .allowed }
            let cookie =
                action == .subscribe && self.cors.trustsCookies(from: origin)
                ? credentials.cookieToken : nil
            guard let token = credentials.token ?? cookie, self.tokens != nil else {
                return .denied(.unauthorized("channel \(channel) is private: a token is required"))
            }
            decision = .verify(token: token)
        }
        guard let verified else { return decision }
        return verified.allows(action, on: channel) ? .allowed : .denied(Self.refusal(action, channel))
    }

    /// The admin routes (`/channels…`, `/stats`, `/metrics`): with access
    /// control configured they need `admin_secret` (or, without one,
    /// `publish_secret`) as `X-River-Secret` or `secret=`; without access
    /// control they answer local clients and the admin listener only.
    func authorizeAdmin(_ request: ParsedRequest, source: RequestSource) throws(RequestError) {
        guard self.isConfigured else {
            guard source.isLocal || source.listener == .adminOnly else {
                throw .forbidden(
                    "the admin routes answer only local clients and the admin listener (set admin_secret or admin_port)"
                )
            }
            return
        }
        guard let expected = self.adminSecret ?? self.publishSecret else {
            throw .forbidden("the admin routes need admin_secret, which is not set")
        }
        guard let secret = try Credentials(request).secret else {
            throw .unauthorized("the admin routes need the admin secret")
        }
        guard expected.matches(secret) else { throw .forbidden("wrong admin secret") }
    }

    /// Verifies `token` (`TokenVerifier`: header, signature, claims, then
    /// `AccessToken.check`) on `executor`'s loop; the future completes there.
    func verify(token: String, on executor: EventLoopTaskExecutor) -> EventLoopFuture<Result<AccessToken, RequestError>>
    {
        let promise = executor.eventLoop.makePromise(of: Result<AccessToken, RequestError>.self)
        Task(executorPreference: executor) {
            promise.succeed(await self.verify(token: token))
        }
        return promise.futureResult
    }

    /// Verifies `token` at the current time; a token `POST /tokens/revoke` named is refused.
    func verify(token: String) async -> Result<AccessToken, RequestError> {
        guard let tokens = self.tokens else {
            return .failure(.unauthorized("tokens are not enabled (token_secret, token_public_key)"))
        }
        do throws(RequestError) {
            let now = WallClock.nowMillis() / 1000
            let verified = try tokens.verify(token, now: now)
            if let id = verified.id, self.revokedTokens.isRevoked(id, now: now) {
                throw .forbidden("invalid token: revoked")
            }
            return .success(verified)
        } catch {
            return .failure(error)
        }
    }

    /// `off`, or `on` with the algorithms accepted.
    private var tokenSummary: String {
        guard let tokens = self.tokens else { return "off" }
        return "on (\(tokens.algorithms.map(\.rawValue).joined(separator: ", ")))"
    }

    /// The reason a verified token does not allow `action` on `channel`.
    static func refusal(_ action: Action, _ channel: ChannelName) -> RequestError {
        .forbidden("token does not allow \(action == .publish ? "publishing to" : "subscribing to") \(channel)")
    }
}

extension AccessPolicy: CustomReflectable {
    /// Without the token key, whatever prints or dumps the policy.
    var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "publishSecret": self.publishSecret as Any, "adminSecret": self.adminSecret as Any,
                "privatePrefix": self.privatePrefix as Any, "tokens": self.tokens == nil ? "off" : "on",
            ]
        )
    }
}
