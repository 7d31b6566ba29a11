import NIOCore

/// A complete answer to a request, whatever HTTP version carries it: the
/// dispatcher and responders build these, and the connection serializes them
/// (`HTTPResponseWriter` for HTTP/1.1).
struct HTTPResponse {
    var status: HTTPStatus
    var contentType: String?
    /// Header fields besides Content-Type, Content-Length and Connection.
    var headers: [(String, String)]
    /// May be shared (a static file): it is written as is, never copied into a per-connection buffer.
    var body: ByteBuffer
    /// The connection closes after this response (the request could not be read safely).
    var closesConnection: Bool

    init(
        status: HTTPStatus,
        contentType: String? = nil,
        headers: [(String, String)] = [],
        body: ByteBuffer = ByteBuffer(),
        closesConnection: Bool = false
    ) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
    }

    /// The answer to a refused request: its status and a one-line plain-text
    /// reason, which browsers must not sniff as anything else.
    static func refusal(
        _ error: RequestError,
        headers: [(String, String)] = [],
        closesConnection: Bool = false
    ) -> HTTPResponse {
        var body = ByteBuffer()
        body.reserveCapacity(error.reason.utf8.count + 1)
        body.writeString(error.reason)
        body.writeStaticString("\n")
        return HTTPResponse(
            status: error.status,
            contentType: "text/plain; charset=utf-8",
            headers: error.headers.map { ($0.name, $0.value) } + [("X-Content-Type-Options", "nosniff")] + headers,
            body: body,
            closesConnection: closesConnection
        )
    }
}
