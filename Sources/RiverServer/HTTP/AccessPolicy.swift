import JWTKit
import NIOCore

/// Who may publish, subscribe and administer. Off by default; each key turns
/// a part on:
///
/// - `publish_secret`: publishing (HTTP and WebSocket frames) and the channel
///   admin routes need it, as `X-River-Secret` or `secret=`;
/// - `token_secret`: signed tokens (`AccessToken`) may be presented instead,
///   as `token=`, `Authorization: Bearer` or the `river_token` cookie
///   (EventSource cannot set headers); publishing then needs a token or the
///   secret;
/// - `private_prefix`: subscribing to channels starting with it needs a token
///   covering them.
///
/// Missing credentials are 401, wrong or insufficient ones 403.
struct AccessPolicy: Sendable {
    enum Action: Sendable, Equatable {
        case publish
        case subscribe
    }

    /// What a request needs before it may go on.
    enum Decision {
        case allowed
        case denied(RequestError)
        /// The token must be verified (asynchronously) and allow the action.
        case verify(token: String)
    }

    let publishSecret: String?
    let privatePrefix: String?
    /// The `token_secret` key; nil when tokens are off.
    private let keys: JWTKeyCollection?

    static let open = AccessPolicy(publishSecret: nil, privatePrefix: nil, keys: nil)

    private init(publishSecret: String?, privatePrefix: String?, keys: JWTKeyCollection?) {
        self.publishSecret = publishSecret
        self.privatePrefix = privatePrefix
        self.keys = keys
    }

    /// The policy of a configuration (registering the token key is asynchronous).
    static func make(_ configuration: RiverConfiguration) async -> AccessPolicy {
        var keys: JWTKeyCollection?
        if let tokenSecret = configuration.tokenSecret {
            keys = await JWTKeyCollection().add(hmac: HMACKey(from: tokenSecret), digestAlgorithm: .sha256)
        }
        return AccessPolicy(
            publishSecret: configuration.publishSecret,
            privatePrefix: configuration.privatePrefix,
            keys: keys
        )
    }

    var restrictsPublishing: Bool { self.publishSecret != nil || self.keys != nil }

    /// Whether `request` may do `action` on `channel`, or what must be checked
    /// first. `verified` is the request's token once `verify` has accepted it.
    func decide(
        _ action: Action,
        channel: String,
        request: HTTPRequest,
        verified: AccessToken? = nil
    ) throws(RequestError) -> Decision {
        let decision: Decision
        switch action {
        case .publish:
            guard self.restrictsPublishing else { return .allowed }
            let credentials = try Credentials(request)
            if let secret = credentials.secret, let expected = self.publishSecret {
                return Self.constantTimeEquals(secret, expected)
                    ? .allowed : .denied(.forbidden("wrong publish secret"))
            }
            guard let token = credentials.token, self.keys != nil else {
                return .denied(.unauthorized("publishing needs the publish secret or a token"))
            }
            decision = .verify(token: token)
        case .subscribe:
            guard let prefix = self.privatePrefix, channel.hasPrefix(prefix) else { return .allowed }
            guard let token = try Credentials(request).token, self.keys != nil else {
                return .denied(.unauthorized("channel \(channel) is private: a token is required"))
            }
            decision = .verify(token: token)
        }
        guard let verified else { return decision }
        return verified.allows(action, on: channel) ? .allowed : .denied(Self.refusal(action, channel))
    }

    /// The channel admin routes need the publish secret, when there is one.
    func authorizeAdmin(_ request: HTTPRequest) throws(RequestError) {
        guard let expected = self.publishSecret else { return }
        guard let secret = try Credentials(request).secret else {
            throw .unauthorized("the channel admin routes need the publish secret")
        }
        guard Self.constantTimeEquals(secret, expected) else { throw .forbidden("wrong publish secret") }
    }

    /// Verifies `token` (signature and `exp`) on `executor`'s loop; the future completes there.
    func verify(token: String, on executor: EventLoopTaskExecutor) -> EventLoopFuture<Result<AccessToken, RequestError>>
    {
        let loop = executor.eventLoop
        guard let keys = self.keys else {
            return loop.makeSucceededFuture(.failure(.unauthorized("tokens are not enabled (token_secret)")))
        }
        let promise = loop.makePromise(of: Result<AccessToken, RequestError>.self)
        Task(executorPreference: executor) {
            do {
                promise.succeed(.success(try await keys.verify(token, as: AccessToken.self)))
            } catch let error as JWTError {
                promise.succeed(.failure(.forbidden("invalid token: \(error.reason ?? "\(error.errorType)")")))
            } catch {
                promise.succeed(.failure(.forbidden("invalid token")))
            }
        }
        return promise.futureResult
    }

    /// The reason a verified token does not allow `action` on `channel`.
    static func refusal(_ action: Action, _ channel: String) -> RequestError {
        .forbidden("token does not allow \(action == .publish ? "publishing to" : "subscribing to") \(channel)")
    }

    /// Compares secrets without an early exit, so timing does not reveal how much matched.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }
}
