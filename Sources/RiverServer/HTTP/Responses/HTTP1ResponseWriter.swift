import NIOCore

/// Writes HTTP/1.1 response heads and whole responses as single buffers.
///
/// A response is one `ByteBuffer` (head and body together), so a pipelined
/// burst of publishes leaves as a handful of buffers and one flush.
enum HTTP1ResponseWriter {
    /// How the response's body is delimited.
    enum Framing {
        case length(Int)
        case chunked
        /// Until the connection closes (HTTP/1.0 streams).
        case close
    }

    static func writeHead(
        status: ResponseStatus,
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

    /// Bodies up to this size travel in the same buffer as the head; larger
    /// ones (static files, shared between connections) are written as they are.
    static let inlineBodyLimit = 4096

    /// Serializes `response` as HTTP/1.1 (or 1.0), handing `write` one buffer,
    /// or two when the body is large. A response to HEAD keeps its
    /// Content-Length and omits its body.
    static func serialize(
        _ response: CompleteResponse,
        isHTTP10: Bool,
        omitsBody: Bool,
        keepAlive: Bool,
        allocator: ByteBufferAllocator,
        write: (ByteBuffer) -> Void
    ) {
        let body = response.body
        let inline = !omitsBody && body.readableBytes <= Self.inlineBodyLimit
        var buffer = allocator.buffer(capacity: 160 + (inline ? body.readableBytes : 0))
        self.writeHead(
            status: response.status,
            contentType: response.contentType,
            framing: .length(body.readableBytes),
            keepAlive: keepAlive,
            isHTTP10: isHTTP10,
            extraHeaders: response.headers,
            into: &buffer
        )
        if inline {
            buffer.writeImmutableBuffer(body)
            write(buffer)
        } else {
            write(buffer)
            if !omitsBody { write(body) }
        }
    }
}
