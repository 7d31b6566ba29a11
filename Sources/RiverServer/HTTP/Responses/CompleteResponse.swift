import NIOCore

/// A complete answer to a request, whatever HTTP version carries it: the
/// dispatcher and responders build these, and the connection serializes them
/// (`HTTP1ResponseWriter` for HTTP/1.1).
struct CompleteResponse {
    var status: ResponseStatus
    var contentType: String?
    /// Header fields besides Content-Type, Content-Length and Connection.
    var headers: [(String, String)]
    /// May be shared (a static file): it is written as is, never copied into a per-connection buffer.
    var body: ByteBuffer
    /// The connection closes after this response (the request could not be read safely).
    var closesConnection: Bool

    init(
        status: ResponseStatus,
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
    /// reason, which browsers must not sniff as anything else. The reason is
    /// `escapedReason(_:)`: whatever of the request it quotes (a path, a name,
    /// a value) cannot turn into markup or a second line.
    static func refusal(
        _ error: RequestError,
        headers: [(String, String)] = [],
        closesConnection: Bool = false
    ) -> CompleteResponse {
        let reason = Self.escapedReason(error.reason)
        var body = ByteBuffer()
        body.reserveCapacity(reason.utf8.count + 1)
        body.writeString(reason)
        body.writeStaticString("\n")
        return CompleteResponse(
            status: error.status,
            contentType: "text/plain; charset=utf-8",
            headers: error.headers.map { ($0.name, $0.value) } + [("X-Content-Type-Options", "nosniff")] + headers,
            body: body,
            closesConnection: closesConnection
        )
    }

    /// `reason` as printable ASCII: every other byte, and `<`, `>`, `&`, `"`,
    /// `\`, `` ` `` and `%` themselves, is written `%XX` (its UTF-8 bytes,
    /// percent-encoded). Reasons River writes itself are plain ASCII without
    /// those characters, so only what a request supplied is ever changed.
    static func escapedReason(_ reason: String) -> String {
        guard reason.utf8.contains(where: Self.needsEscaping) else { return reason }
        var escaped: [UInt8] = []
        escaped.reserveCapacity(reason.utf8.count + 16)
        for byte in reason.utf8 {
            if Self.needsEscaping(byte) {
                escaped.append(UInt8(ascii: "%"))
                escaped.append(Self.hexDigits[Int(byte >> 4)])
                escaped.append(Self.hexDigits[Int(byte & 0x0F)])
            } else {
                escaped.append(byte)
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x20...0x7E:
            return "<>&\"\\`%".utf8.contains(byte)
        default:
            return true
        }
    }
}
