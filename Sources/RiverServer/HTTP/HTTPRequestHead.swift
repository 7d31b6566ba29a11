import NIOCore

/// The HTTP methods River knows; a request with any other is refused with 501.
public enum HTTPMethod: String, Sendable, Equatable {
    case get = "GET", head = "HEAD", post = "POST", put = "PUT", delete = "DELETE", options = "OPTIONS", patch = "PATCH"
}

/// A parsed request line and the header fields River acts on. Other fields are
/// checked for syntax and skipped without being stored.
public struct HTTPRequestHead: Sendable {
    public var method: HTTPMethod = .get
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
    public var webSocketKey: String?
    public var webSocketVersion: String?

    public init() {}
}

/// A complete request: head and (de-chunked) body.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: ByteBuffer

    public init(head: HTTPRequestHead, body: ByteBuffer = ByteBuffer()) {
        self.head = head
        self.body = body
    }
}

/// Why a byte stream is not an acceptable HTTP/1.1 request. The connection is
/// answered with `status` and a one-line reason, then closed.
public struct HTTPParseError: Error, Equatable, Sendable {
    public let status: HTTPStatus
    public let reason: String

    public init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}
