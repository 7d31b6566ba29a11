import JWTKit

/// A signed token (JWT, HS256 with `token_secret`) granting access to channels:
///
///     {"exp": 1767225600, "channels": ["room-1"], "prefix": "team-7-", "publish": true}
///
/// `exp` is required. The token covers the channels it lists and those
/// starting with `prefix`; it allows subscribing unless `"subscribe": false`,
/// and publishing only with `"publish": true`.
struct AccessToken: JWTPayload, Equatable {
    var exp: ExpirationClaim
    var channels: [String]?
    var prefix: String?
    var publish: Bool?
    var subscribe: Bool?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try self.exp.verifyNotExpired()
    }

    func covers(_ channel: String) -> Bool {
        (self.channels?.contains(channel) ?? false) || (self.prefix.map { channel.hasPrefix($0) } ?? false)
    }

    func allows(_ action: AccessPolicy.Action, on channel: String) -> Bool {
        guard self.covers(channel) else { return false }
        switch action {
        case .publish: return self.publish == true
        case .subscribe: return self.subscribe ?? true
        }
    }
}
