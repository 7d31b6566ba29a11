import NIOCore
import RiverCore

/// The claims of a verified token (JWT, RFC 7519) granting access to channels:
///
///     {"exp": 1767225600, "channels": ["room-1"], "prefix": "team-7-", "publish": true,
///      "sub": "u1", "info": {"name": "Ada"}}
///
/// `exp` is required; `nbf`, `iss` and `aud` are checked when present (`iss`
/// and `aud` must match `token_issuer` and `token_audience` when those are
/// configured), all with `Rules.clockSkew` seconds of tolerance. The token
/// covers the channels it lists and those starting with `prefix`, compared
/// byte for byte; it allows subscribing unless `"subscribe": false`, and
/// publishing only with `"publish": true`. `sub` and `info` name the user
/// behind the token, for presence; `jti` names the token, for revocation.
///
/// `TokenVerifier` builds it from the claims only once the signature holds
/// (`init(claims:)`); a claim of the wrong type is refused with a one-line
/// reason, a claim River does not know is ignored (RFC 7519 section 4).
struct AccessToken: Equatable, Sendable {
    var exp: Double?
    var nbf: Double?
    var iss: String?
    /// `aud`: one string or an array of them (RFC 7519 section 4.1.3), as an array.
    var aud: [String]?
    var channels: [String]?
    var prefix: String?
    var publish: Bool?
    var subscribe: Bool?
    /// `sub` (RFC 7519 section 4.1.2): the user the token speaks for; presence lists members by it.
    var subject: String?
    /// `jti` (RFC 7519 section 4.1.7): what `POST /tokens/revoke` names the token by.
    var id: String?
    /// `info`: what presence shows about the user, a JSON object.
    var info: TokenInfo?
    /// Every claim, as verified: `auth_url` is told them (PROTOCOL.md C4).
    var claims: JSONValue?

    /// What a token's claims must satisfy besides its signature.
    struct Rules: Sendable, Equatable {
        /// `token_issuer`: the `iss` required, if any.
        var issuer: String?
        /// `token_audience`: the value `aud` must name, if any.
        var audience: String?
        /// Seconds of disagreement tolerated between our clock and the issuer's.
        var clockSkew: Int64 = 30
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
        subscribe: Bool? = nil,
        subject: String? = nil,
        info: TokenInfo? = nil
    ) {
        self.exp = exp
        self.nbf = nbf
        self.iss = iss
        self.aud = aud
        self.channels = channels
        self.prefix = prefix
        self.publish = publish
        self.subscribe = subscribe
        self.subject = subject
        self.info = info
    }

    /// The token of a JWT Claims Set (RFC 7519 section 7.2, step 10: a JSON object).
    /// A claim that is `null` counts as absent.
    init(claims: JSONValue) throws(RequestError) {
        guard case .object = claims else { throw .forbidden("invalid token: the claims are not a JSON object") }
        self.init()
        self.claims = claims
        self.exp = try Self.claim("exp", in: claims, as: "a number") { value in
            if case .number(let text) = value { Double(text) } else { nil }
        }
        self.nbf = try Self.claim("nbf", in: claims, as: "a number") { value in
            if case .number(let text) = value { Double(text) } else { nil }
        }
        self.iss = try Self.claim("iss", in: claims, as: "a string", Self.string)
        self.aud = try Self.claim("aud", in: claims, as: "a string or an array of strings") { value in
            Self.string(value).map { [$0] } ?? Self.strings(value)
        }
        self.channels = try Self.claim("channels", in: claims, as: "an array of strings", Self.strings)
        self.prefix = try Self.claim("prefix", in: claims, as: "a string", Self.string)
        self.publish = try Self.claim("publish", in: claims, as: "true or false", Self.bool)
        self.subscribe = try Self.claim("subscribe", in: claims, as: "true or false", Self.bool)
        self.subject = try Self.claim("sub", in: claims, as: "a non-empty string", Self.nonEmptyString)
        self.id = try Self.claim("jti", in: claims, as: "a non-empty string", Self.nonEmptyString)
        self.info = try Self.claim("info", in: claims, as: "a JSON object") { value in
            if case .object = value { TokenInfo(value) } else { nil }
        }
    }

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
        if let audience = rules.audience, !(self.aud?.contains { $0.utf8Equals(audience) } ?? false) {
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

    /// Claim `name` of `claims` through `read` (nil: the wrong type, refused as not being `kind`).
    private static func claim<Value>(
        _ name: String,
        in claims: JSONValue,
        as kind: String,
        _ read: (JSONValue) -> Value?
    ) throws(RequestError) -> Value? {
        guard let value = claims[name], value != .null else { return nil }
        guard let read = read(value) else { throw .forbidden("invalid token: \(name) is not \(kind)") }
        return read
    }

    private static func string(_ value: JSONValue) -> String? {
        if case .string(let text) = value { text } else { nil }
    }

    private static func nonEmptyString(_ value: JSONValue) -> String? {
        Self.string(value).flatMap { $0.isEmpty ? nil : $0 }
    }

    private static func strings(_ value: JSONValue) -> [String]? {
        guard case .array(let elements) = value else { return nil }
        var strings: [String] = []
        for element in elements {
            guard case .string(let text) = element else { return nil }
            strings.append(text)
        }
        return strings
    }

    private static func bool(_ value: JSONValue) -> Bool? {
        if case .bool(let flag) = value { flag } else { nil }
    }
}

/// The `info` claim: a JSON object describing the user, kept both as the
/// value and as its canonical bytes (`JSONValue.canonicalJSON`), which is
/// what presence sends on. Presence refuses an `info` over
/// `presenceLimit` bytes (PROTOCOL.md C3: 400).
struct TokenInfo: Equatable, Sendable {
    /// The largest `info`, in canonical bytes, presence accepts (1 KiB).
    static let presenceLimit = 1024

    /// The object (`.object`).
    let value: JSONValue
    /// Its canonical JSON.
    let json: [UInt8]

    init(_ value: JSONValue) {
        self.value = value
        self.json = value.canonicalJSON
    }

    /// The size of `json`, in bytes.
    var byteCount: Int { self.json.count }

    /// Whether presence accepts it (at most `presenceLimit` bytes).
    var isWithinPresenceLimit: Bool { self.byteCount <= Self.presenceLimit }
}

extension AccessToken {
    /// The presence member this token names: its `sub`, with its `info`
    /// (PROTOCOL.md C3); nil without `sub`. An `info` over 1 KiB is 400.
    func presenceMember() throws(RequestError) -> PresenceMember? {
        guard let subject = self.subject else { return nil }
        guard let info = self.info else { return PresenceMember(user: subject) }
        guard info.isWithinPresenceLimit else {
            throw .badRequest(
                "the token's info is \(info.byteCount) bytes: presence takes at most \(TokenInfo.presenceLimit)"
            )
        }
        return PresenceMember(user: subject, info: ByteBuffer(bytes: info.json))
    }
}
