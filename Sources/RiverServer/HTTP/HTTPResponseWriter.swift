import NIOCore

/// Writes HTTP/1.1 response heads and whole responses as single buffers.
///
/// A response is one `ByteBuffer` (head and body together), so a pipelined
/// burst of publishes leaves as a handful of buffers and one flush.
enum HTTPResponseWriter {
    /// How the response's body is delimited.
    enum Framing {
        case length(Int)
        case chunked
        /// Until the connection closes (HTTP/1.0 streams).
        case close
    }

    static func writeHead(
        status: HTTPStatus,
        contentType: String?,
        framing: Framing,
        keepAlive: Bool,
        isHTTP10: Bool,
        extraHeaders: [(String, String)],
        into buffer: inout ByteBuffer
    ) {
        buffer.writeStaticString(isHTTP10 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeDecimal(UInt64(status.code))
        buffer.writeStaticString(" ")
        buffer.writeString(status.reason)
        buffer.writeStaticString("\r\n")
        if let contentType {
            buffer.writeStaticString("Content-Type: ")
            buffer.writeString(contentType)
            buffer.writeStaticString("\r\n")
        }
        switch framing {
        case .length(let length):
            buffer.writeStaticString("Content-Length: ")
            buffer.writeDecimal(UInt64(length))
            buffer.writeStaticString("\r\n")
        case .chunked:
            buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
        case .close:
            break
        }
        for (name, value) in extraHeaders {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if !keepAlive {
            buffer.writeStaticString("Connection: close\r\n")
        } else if isHTTP10 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// A complete response with a body of known length (omitted for HEAD requests).
    static func response(
        status: HTTPStatus,
        contentType: String?,
        body: ByteBuffer,
        request: HTTPRequestHead,
        keepAlive: Bool,
        extraHeaders: [(String, String)] = [],
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 160 + body.readableBytes)
        self.writeHead(
            status: status,
            contentType: contentType,
            framing: .length(body.readableBytes),
            keepAlive: keepAlive,
            isHTTP10: request.isHTTP10,
            extraHeaders: extraHeaders,
            into: &buffer
        )
        if request.method != .head {
            buffer.writeImmutableBuffer(body)
        }
        return buffer
    }

    /// A plain-text answer whose body is one line saying why. The reason is
    /// `escapedReason(_:)`: whatever of the request it quotes (a path, a
    /// name, a value) cannot turn into markup or a second line, and
    /// `X-Content-Type-Options: nosniff` keeps browsers from guessing otherwise.
    static func error(
        status: HTTPStatus,
        reason: String,
        isHTTP10: Bool,
        keepAlive: Bool,
        extraHeaders: [(String, String)] = [],
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let line = Self.escapedReason(reason)
        var buffer = allocator.buffer(capacity: 200 + line.utf8.count)
        self.writeHead(
            status: status,
            contentType: "text/plain; charset=utf-8",
            framing: .length(line.utf8.count + 1),
            keepAlive: keepAlive,
            isHTTP10: isHTTP10,
            extraHeaders: [("X-Content-Type-Options", "nosniff")] + extraHeaders,
            into: &buffer
        )
        buffer.writeString(line)
        buffer.writeStaticString("\n")
        return buffer
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
