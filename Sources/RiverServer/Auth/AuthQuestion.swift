import Crypto
import NIOCore
import RiverCore

/// What River asks the application at `auth_url` (PROTOCOL.md C4), and who
/// asks it: one POST of JSON per decision,
///
///     {"action": "subscribe", "channels": ["a", "b"],
///      "client": {"address": "203.0.113.7", "origin": "https://app.example", "transport": "sse"},
///      "headers": {"cookie": "...", "authorization": "..."}, "claims": {...}}
///
/// (`data`, with `"encoding": "base64"` for bytes, on a publish). The
/// `fingerprint` — SHA-256 of the forwarded headers, the token and the origin —
/// is who asks: decisions are cached and questions coalesced under it, so
/// two requests with the same credentials share one answer and two with
/// different ones never do.
struct AuthQuestion: Sendable {
    enum Action: String, Sendable, Hashable {
        case subscribe
        case publish
        /// A `river.v2` WebSocket's handshake.
        case connect
    }

    /// Where the question comes from, as the application is told.
    struct Client: Sendable {
        var address: String?
        var origin: String?
        /// `stream`, `long-poll`, `jsonp`, `sse`, `websocket` or `river.v2`.
        var transport: String
    }

    /// Who asks: a digest of the credentials the question carries.
    struct Fingerprint: Sendable, Hashable {
        let high: UInt64
        let low: UInt64
        let extra: UInt64
        let last: UInt64
    }

    let action: Action
    /// The channels asked about (none for `connect`).
    var channels: [ChannelName]
    /// The message of a publish.
    var data: ByteBuffer?
    var isBinary = false
    let client: Client
    /// The forwarded header fields (`auth_headers`), lower-case names, in a fixed order.
    let headers: [(name: String, value: String)]
    /// The claims of the verified token presented, if any.
    let claims: JSONValue?
    let fingerprint: Fingerprint

    init(
        action: Action,
        channels: [ChannelName],
        data: ByteBuffer? = nil,
        isBinary: Bool = false,
        client: Client,
        headers: [(name: String, value: String)],
        token: String?,
        claims: JSONValue?
    ) {
        self.action = action
        self.channels = channels
        self.data = data
        self.isBinary = isBinary
        self.client = client
        self.headers = headers
        self.claims = claims
        self.fingerprint = Self.fingerprint(headers: headers, token: token, origin: client.origin)
    }

    /// SHA-256 over each part, length-prefixed, so no two different sets of credentials share bytes.
    static func fingerprint(headers: [(name: String, value: String)], token: String?, origin: String?) -> Fingerprint {
        var hasher = SHA256()
        func add(_ text: String?) {
            guard let text else {
                hasher.update(data: [0xFF])
                return
            }
            var length = UInt32(truncatingIfNeeded: text.utf8.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(text.utf8))
        }
        for (name, value) in headers {
            add(name)
            add(value)
        }
        add("token")
        add(token)
        add("origin")
        add(origin)
        let digest = Array(hasher.finalize())
        func word(_ index: Int) -> UInt64 {
            digest[(index * 8)..<(index * 8 + 8)].reduce(0) { $0 << 8 | UInt64($1) }
        }
        return Fingerprint(high: word(0), low: word(1), extra: word(2), last: word(3))
    }

    /// The same question about other channels.
    func about(_ channels: [ChannelName]) -> AuthQuestion {
        var question = self
        question.channels = channels
        return question
    }

    /// The JSON River POSTs.
    func json() -> ByteBuffer {
        var json = ByteBuffer()
        json.reserveCapacity(256 + (self.data?.readableBytes ?? 0) * 2)
        json.writeStaticString("{\"action\": ")
        JSONString.write(self.action.rawValue, into: &json)
        json.writeStaticString(", \"channels\": [")
        for (index, channel) in self.channels.enumerated() {
            if index > 0 { json.writeStaticString(", ") }
            JSONString.write(channel.value, into: &json)
        }
        json.writeStaticString("]")
        if let data = self.data {
            json.writeStaticString(", \"data\": ")
            let isText = !self.isBinary && data.withUnsafeReadableBytes { UTF8Validation.isValid($0) }
            if isText {
                JSONString.write(data, into: &json)
            } else {
                json.writeStaticString("\"")
                Base64.write(data, into: &json)
                json.writeStaticString("\", \"encoding\": \"base64\"")
            }
        }
        json.writeStaticString(", \"client\": {\"address\": ")
        Self.write(self.client.address, into: &json)
        json.writeStaticString(", \"origin\": ")
        Self.write(self.client.origin, into: &json)
        json.writeStaticString(", \"transport\": ")
        JSONString.write(self.client.transport, into: &json)
        json.writeStaticString("}, \"headers\": {")
        for (index, header) in self.headers.enumerated() {
            if index > 0 { json.writeStaticString(", ") }
            JSONString.write(header.name, into: &json)
            json.writeStaticString(": ")
            JSONString.write(header.value, into: &json)
        }
        json.writeStaticString("}")
        if let claims = self.claims {
            json.writeStaticString(", \"claims\": ")
            claims.writeCanonical(into: &json)
        }
        json.writeStaticString("}")
        return json
    }

    private static func write(_ text: String?, into json: inout ByteBuffer) {
        if let text { JSONString.write(text, into: &json) } else { json.writeStaticString("null") }
    }
}

/// The identity of one question, for coalescing: who asks, what, about which
/// channels (in order), and a publish's message.
struct QuestionKey: Hashable, Sendable {
    let fingerprint: AuthQuestion.Fingerprint
    let action: AuthQuestion.Action
    let channels: [ChannelName]
    let data: ByteBuffer?

    init(_ question: AuthQuestion) {
        self.fingerprint = question.fingerprint
        self.action = question.action
        self.channels = question.channels
        self.data = question.data
    }
}

/// Where a decision is cached: who asks, what, about which channel (nil: the connection itself).
struct DecisionKey: Hashable, Sendable {
    let fingerprint: AuthQuestion.Fingerprint
    let action: AuthQuestion.Action
    let channel: ChannelName?
}
