import NIOCore

/// The HTTP methods River knows; a request with any other is refused with 501.
public enum RequestMethod: String, Sendable, Equatable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case delete = "DELETE"
    case options = "OPTIONS"
    case patch = "PATCH"
}

/// A parsed request line and the header fields River acts on. Other fields are
/// checked for syntax and skipped without being stored.
public struct ParsedRequestHead: Sendable {
    public var method: RequestMethod = .get
    /// The path, not percent-decoded (`/subscribe`).
    public var path: String = "/"
    /// The query string without `?`, raw.
    public var query: ByteBuffer = ByteBuffer()
    public var isHTTP10 = false
    /// Whether the connection stays open after the response.
    public var keepAlive = true
    public var contentLength: Int?
    public var isChunked = false
    public var expectsContinue = false
    /// Whether a `Content-Type` field was sent at all.
    public var hasContentType = false
    /// `Content-Type: application/x-www-form-urlencoded`.
    public var isFormEncoded = false
    /// `Content-Type: application/octet-stream`: a raw body is a binary message.
    public var isOctetStream = false
    /// `If-None-Match`, for revalidating static files.
    public var ifNoneMatch: String?
    /// `Accept` names `text/event-stream`.
    public var acceptsEventStream = false
    public var lastEventID: String?
    public var origin: String?
    public var cookie: String?
    public var authorization: String?
    public var publishSecret: String?
    public var accessControlRequestMethod: String?
    public var accessControlRequestHeaders: String?
    /// The request names a proxy (`Forwarded`, `X-Forwarded-For` or `X-Real-IP`):
    /// its peer address is the proxy's, not the client's.
    public var isForwarded = false
    /// `Upgrade: websocket` together with `Connection: upgrade`.
    public var upgradesToWebSocket = false
    /// Any `Upgrade` together with `Connection: upgrade`: a protocol River does not
    /// speak is ignored (RFC 9110 section 7.8) and the connection stays HTTP.
    public var asksToUpgrade = false
    public var webSocketKey: String?
    /// `Sec-WebSocket-Key` appeared more than once (RFC 6455 section 11.3.1: refused).
    public var webSocketKeyRepeated = false
    /// `Sec-WebSocket-Version` came more than once (RFC 6455 section 11.3.5: 400).
    public var webSocketVersionRepeated = false
    /// `Sec-WebSocket-Protocol`, every field joined with ", ".
    public var webSocketProtocols: String?
    public var webSocketVersion: String?
    /// `Sec-WebSocket-Extensions`, every field joined with ", " (RFC 9110 section 5.3).
    public var webSocketExtensions: String?
    /// The fields `Limits.keptFields` names, lower-case name and value, in
    /// arrival order (a repeated field appears once per line).
    public var keptFields: [(name: String, value: String)] = []

    public init() {}
}

/// A complete request: head and (de-chunked) body.
public struct ParsedRequest: Sendable {
    public var head: ParsedRequestHead
    public var body: ByteBuffer

    public init(head: ParsedRequestHead, body: ByteBuffer = ByteBuffer()) {
        self.head = head
        self.body = body
    }
}

/// Why a byte stream is not an acceptable HTTP/1.1 request. The connection is
/// answered with `status` and a one-line reason, then closed.
public struct RequestParseError: Error, Equatable, Sendable {
    public let status: ResponseStatus
    public let reason: String

    public init(_ status: ResponseStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}
