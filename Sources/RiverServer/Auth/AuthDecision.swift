import Foundation
import NIOCore
import RiverCore

/// The application's word on one channel (or on a `river.v2` connection):
/// allowed or refused with a reason, for how long (`ttl`: cached and valid
/// that long; nil: not cached, and a live subscription is never asked again),
/// and who the subscriber is for presence (`user`, `info`).
struct ChannelDecision: Sendable, Equatable {
    var allowed: Bool
    var reason: String?
    /// Seconds; nil: this one request only.
    var ttl: Int64?
    var member: PresenceMember?

    /// The refusal a client gets (403, one line).
    func refusal(_ channel: ChannelName?) -> RequestError {
        let reason = self.reason ?? "refused by the application"
        guard let channel else { return .forbidden(reason) }
        return .forbidden("\(channel): \(reason)")
    }
}

/// Everything the application answered to one question: a decision per
/// channel asked about (`connect`: `connection`), and for a publish the
/// message that replaces the client's.
struct AuthOutcome: Sendable {
    var decisions: [ChannelName: ChannelDecision] = [:]
    /// `connect`: the decision on the connection.
    var connection: ChannelDecision?
    /// A publish's replacement data, and whether it is binary.
    var replacement: (data: ByteBuffer, isBinary: Bool)?

    /// The refusal of the first channel of `channels` the application refused (403 naming it), if any.
    func refusal(_ channels: [ChannelName]) -> RequestError? {
        self.firstRefused(channels).map { $0.1.refusal($0.0) }
    }

    /// The first channel of `channels` refused, with its decision.
    func firstRefused(_ channels: [ChannelName]) -> (ChannelName, ChannelDecision)? {
        for channel in channels {
            if let decision = self.decisions[channel], !decision.allowed { return (channel, decision) }
        }
        return nil
    }
}

/// Reads the application's answer (PROTOCOL.md C4), strictly and within
/// bounds: a 200 with a JSON object (`allow` required, `reason`, `ttl`,
/// `user`, `info` at most 1 KiB, `data` with `encoding`, and `channels`
/// overriding any of these per channel), or a 403 whose body (text, or JSON
/// with `reason`) is the reason. Anything else is the application failing:
/// `RequestError.unavailable`, 503, fail closed.
enum AuthAnswer {
    /// The largest answer read, in bytes; a larger one is refused unread past this.
    static let maxBytes = 64 * 1024
    /// How deep an answer's JSON may nest.
    static let maxDepth = 16
    /// The longest ttl honoured (a day); longer is cut to it.
    static let maxTTL: Int64 = 86_400
    /// The longest reason passed on, in characters.
    static let maxReason = 200

    /// The outcome of `status` and `body` for `question`.
    static func read(status: Int, body: [UInt8], for question: AuthQuestion, maxMessageSize: Int)
        throws(RequestError) -> AuthOutcome
    {
        switch status {
        case 200:
            return try Self.readAllowance(body, for: question, maxMessageSize: maxMessageSize)
        case 403:
            let decision = Self.readRefusal(body)
            var outcome = AuthOutcome()
            if question.action == .connect { outcome.connection = decision }
            for channel in question.channels { outcome.decisions[channel] = decision }
            return outcome
        default:
            throw .unavailable("the authorization backend answered \(status) (fail closed: only 200 and 403 decide)")
        }
    }

    /// A 403's reason: `{"reason": ...}` (with an optional `ttl`) or the text itself.
    private static func readRefusal(_ body: [UInt8]) -> ChannelDecision {
        if let object = try? JSONParser.parse(body, maxDepth: Self.maxDepth), case .object = object {
            let reason = Self.string(object["reason"]).map(Self.oneLine)
            let ttl = try? Self.ttl(object["ttl"])
            return ChannelDecision(allowed: false, reason: reason, ttl: ttl ?? nil)
        }
        let text = String(decoding: body.prefix(4 * Self.maxReason), as: UTF8.self)
        let reason = Self.oneLine(text)
        return ChannelDecision(allowed: false, reason: reason.isEmpty ? nil : reason)
    }

    private static func readAllowance(_ body: [UInt8], for question: AuthQuestion, maxMessageSize: Int)
        throws(RequestError) -> AuthOutcome
    {
        let object: JSONValue
        do {
            object = try JSONParser.parse(body, maxDepth: Self.maxDepth)
        } catch {
            throw Self.unreadable("not JSON (\(error))")
        }
        guard case .object = object else { throw Self.unreadable("not a JSON object") }
        let overall = try Self.decision(object, inherited: nil, what: "the answer")
        var outcome = AuthOutcome()
        if question.action == .connect { outcome.connection = overall }
        var overrides: [JSONValue.Member] = []
        if let channels = object["channels"] {
            guard case .object(let members) = channels else { throw Self.unreadable("'channels' is not an object") }
            overrides = members
        }
        for channel in question.channels {
            if let override = overrides.first(where: { $0.name.utf8.elementsEqual(channel.value.utf8) }) {
                outcome.decisions[channel] = try Self.decision(override.value, inherited: overall, what: "channel \(channel)")
            } else {
                outcome.decisions[channel] = overall
            }
        }
        if question.action == .publish, let data = object["data"] {
            outcome.replacement = try Self.replacement(data, encoding: object["encoding"], maxSize: maxMessageSize)
        }
        return outcome
    }

    /// One decision object; what it leaves out comes from `inherited` (the top level).
    private static func decision(_ value: JSONValue, inherited: ChannelDecision?, what: String)
        throws(RequestError) -> ChannelDecision
    {
        guard case .object = value else { throw Self.unreadable("\(what) is not an object") }
        var decision = inherited ?? ChannelDecision(allowed: false)
        switch value["allow"] {
        case .bool(let allow)?: decision.allowed = allow
        case nil where inherited != nil: break
        default: throw Self.unreadable("\(what) has no 'allow': true or false")
        }
        if let reason = value["reason"] {
            guard let text = Self.string(reason) else { throw Self.unreadable("'reason' is not a string") }
            decision.reason = Self.oneLine(text)
        }
        if value["ttl"] != nil { decision.ttl = try Self.ttl(value["ttl"]) }
        if let user = value["user"] {
            guard let name = Self.string(user), !name.isEmpty, name.utf8.count <= 256 else {
                throw Self.unreadable("'user' is not a string of 1 to 256 bytes")
            }
            decision.member = PresenceMember(user: name, info: try Self.info(value["info"]))
        } else if value["info"] != nil {
            throw Self.unreadable("'info' without 'user'")
        }
        return decision
    }

    /// `info`: a JSON object of at most 1 KiB, kept canonical (as a token's is).
    private static func info(_ value: JSONValue?) throws(RequestError) -> ByteBuffer? {
        guard let value, value != .null else { return nil }
        guard case .object = value else { throw Self.unreadable("'info' is not a JSON object") }
        let info = TokenInfo(value)
        guard info.isWithinPresenceLimit else {
            throw Self.unreadable("'info' is \(info.byteCount) bytes: presence takes at most \(TokenInfo.presenceLimit)")
        }
        return ByteBuffer(bytes: info.json)
    }

    /// `ttl`: whole seconds, 0 up to a day (more is cut to a day); null or absent: not kept.
    private static func ttl(_ value: JSONValue?) throws(RequestError) -> Int64? {
        guard let value, value != .null else { return nil }
        guard case .number(let text) = value, let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw Self.unreadable("'ttl' is not a number of seconds")
        }
        return seconds >= Double(Self.maxTTL) ? Self.maxTTL : Int64(seconds)
    }

    /// A publish's replacement `data`, text or base64 bytes, within `max_message_size`.
    private static func replacement(_ value: JSONValue, encoding: JSONValue?, maxSize: Int)
        throws(RequestError) -> (data: ByteBuffer, isBinary: Bool)?
    {
        if value == .null { return nil }
        guard let text = Self.string(value) else { throw Self.unreadable("'data' is not a string") }
        let bytes: [UInt8]
        let isBinary: Bool
        switch encoding {
        case nil, .null?:
            bytes = Array(text.utf8)
            isBinary = false
        case .string(let name)? where name == "base64":
            guard let decoded = Data(base64Encoded: text) else { throw Self.unreadable("'data' is not base64") }
            bytes = Array(decoded)
            isBinary = true
        default:
            throw Self.unreadable("'encoding' is not \"base64\"")
        }
        guard bytes.count <= maxSize else {
            throw Self.unreadable("'data' is \(bytes.count) bytes, over max_message_size (\(maxSize))")
        }
        return (ByteBuffer(bytes: bytes), isBinary)
    }

    private static func string(_ value: JSONValue?) -> String? {
        if case .string(let text)? = value { text } else { nil }
    }

    /// One line of at most `maxReason` characters: line breaks and control characters become spaces.
    static func oneLine(_ text: String) -> String {
        let cleaned = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) }
        return String(String(cleaned).trimmingCharacters(in: .whitespaces).prefix(Self.maxReason))
    }

    static func unreadable(_ why: String) -> RequestError {
        .unavailable("the authorization backend's answer is unreadable: \(why) (fail closed)")
    }
}

extension AuthOutcome {
    /// The presence member the application named for the first of `channels` that has one.
    func member(_ channels: [ChannelName]) -> PresenceMember? {
        for channel in channels {
            if let member = self.decisions[channel]?.member { return member }
        }
        return self.connection?.member
    }
}
