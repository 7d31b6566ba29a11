import JWTKit
import RiverCore

/// A signed token (JWT, HS256 with `token_secret`) granting access to channels:
///
///     {"exp": 1767225600, "channels": ["room-1"], "prefix": "team-7-", "publish": true}
///
/// `exp` is required; `nbf`, `iss` and `aud` are checked when present (`iss`
/// and `aud` must match `token_issuer` and `token_audience` when those are
/// configured), all with `Rules.clockSkew` seconds of tolerance. The token
/// covers the channels it lists and those starting with `prefix`, compared
/// byte for byte; it allows subscribing unless `"subscribe": false`, and
/// publishing only with `"publish": true`.
///
/// Every claim is optional to the decoder, so a token missing one is refused
/// by `check` with a one-line reason rather than by the decoder with a dump.
struct AccessToken: JWTPayload, Equatable {
    var exp: Double?
    var nbf: Double?
    var iss: String?
    var aud: Audience?
    var channels: [String]?
    var prefix: String?
    var publish: Bool?
    var subscribe: Bool?

    /// What a token's claims must satisfy besides its signature.
    struct Rules: Sendable, Equatable {
        /// `token_issuer`: the `iss` required, if any.
        var issuer: String?
        /// `token_audience`: the value `aud` must name, if any.
        var audience: String?
        /// Seconds of disagreement tolerated between our clock and the issuer's.
        var clockSkew: Int64 = 30
    }

    /// `aud`: one string or an array of them (RFC 7519 section 4.1.3).
    struct Audience: Codable, Equatable {
        var values: [String]

        init(_ values: [String]) { self.values = values }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let single = try? container.decode(String.self) {
                self.values = [single]
            } else {
                self.values = try container.decode([String].self)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            if self.values.count == 1 {
                try container.encode(self.values[0])
            } else {
                try container.encode(self.values)
            }
        }
    }

    /// Times outside this are not times (9999-12-31T23:59:59Z is the last).
    static let timeRange: ClosedRange<Int64> = 0...253_402_300_799

    init(
        exp: Double? = nil,
        nbf: Double? = nil,
        iss: String? = nil,
        aud: [String]? = nil,
        channels: [String]? = nil,
        prefix: String? = nil,
        publish: Bool? = nil,
        subscribe: Bool? = nil
    ) {
        self.exp = exp
        self.nbf = nbf
        self.iss = iss
        self.aud = aud.map(Audience.init)
        self.channels = channels
        self.prefix = prefix
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Claims are checked by `check(now:rules:)`, which needs the clock and the configuration.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// Refuses a token (with a valid signature) whose claims do not hold at `now` (seconds since 1970).
    func check(now: Int64, rules: Rules) throws(RequestError) {
        guard let exp = self.exp else { throw .forbidden("invalid token: exp is required") }
        let expires = try Self.time(exp, claim: "exp")
        guard now < expires + rules.clockSkew else { throw .forbidden("invalid token: expired") }
        if let nbf = self.nbf {
            guard now + rules.clockSkew >= (try Self.time(nbf, claim: "nbf")) else {
                throw .forbidden("invalid token: not valid yet (nbf)")
            }
        }
        if let issuer = rules.issuer, !(self.iss?.utf8Equals(issuer) ?? false) {
            throw .forbidden("invalid token: wrong issuer (iss)")
        }
        if let audience = rules.audience, !(self.aud?.values.contains { $0.utf8Equals(audience) } ?? false) {
            throw .forbidden("invalid token: wrong audience (aud)")
        }
    }

    func covers(_ channel: ChannelName) -> Bool {
        (self.channels?.contains { channel.value.utf8Equals($0) } ?? false)
            || (self.prefix.map { channel.hasPrefix(bytesOf: $0) } ?? false)
    }

    func allows(_ action: AccessPolicy.Action, on channel: ChannelName) -> Bool {
        guard self.covers(channel) else { return false }
        switch action {
        case .publish: return self.publish == true
        case .subscribe, .subscribeAsScript: return self.subscribe ?? true
        }
    }

    /// A claim's seconds, through `CheckedNumber`.
    private static func time(_ value: Double, claim: String) throws(RequestError) -> Int64 {
        do {
            return try CheckedNumber.seconds(value, in: Self.timeRange)
        } catch {
            throw .forbidden("invalid token: \(claim) is not a time")
        }
    }
}
