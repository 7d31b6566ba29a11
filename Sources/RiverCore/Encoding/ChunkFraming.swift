import NIOCore

/// HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1,
/// https://www.rfc-editor.org/rfc/rfc9112#section-7.1): `HEX CRLF bytes CRLF`.
public enum ChunkFraming {
    /// Room reserved in front of a body for its chunk header (8 hex digits + CRLF).
    public static let headerRoom = 10

    /// The last chunk, which ends a chunked body.
    public static let terminator: ByteBuffer = ByteBuffer(string: "0\r\n\r\n")

    /// Builds one chunk by letting `body` write into a buffer that already has
    /// room for the header, then writing the header right before the body:
    /// the bytes are produced once and never moved.
    public static func makeChunk(
        capacity: Int,
        allocator: ByteBufferAllocator,
        body: (inout ByteBuffer) -> Void
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity + Self.headerRoom + 2)
        buffer.moveWriterIndex(forwardBy: Self.headerRoom)
        buffer.moveReaderIndex(forwardBy: Self.headerRoom)
        body(&buffer)
        let length = buffer.readableBytes
        var header: (UInt64, UInt64) = (0, 0)
        let headerStart = withUnsafeMutableBytes(of: &header) { scratch -> Int in
            var position = scratch.count
            position -= 2
            scratch[position] = UInt8(ascii: "\r")
            scratch[position + 1] = UInt8(ascii: "\n")
            var remaining = length
            repeat {
                position -= 1
                let digit = UInt8(remaining & 0xF)
                scratch[position] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "A") + digit - 10
                remaining >>= 4
            } while remaining > 0
            return position
        }
        let headerLength = 16 - headerStart
        let start = buffer.readerIndex - headerLength
        withUnsafeBytes(of: &header) { scratch in
            _ = buffer.setBytes(UnsafeRawBufferPointer(rebasing: scratch[headerStart...]), at: start)
        }
        buffer.moveReaderIndex(to: start)
        buffer.writeStaticString("\r\n")
        return buffer
    }
}
