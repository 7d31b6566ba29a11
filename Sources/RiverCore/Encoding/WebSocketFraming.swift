import NIOCore

/// Server-to-client WebSocket frames (RFC 6455 section 5.2,
/// https://www.rfc-editor.org/rfc/rfc6455#section-5.2): unmasked, one final
/// frame per message, so one buffer can go to every WebSocket subscriber.
public enum WebSocketFraming {
    public enum Opcode: UInt8, Sendable {
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// Writes a frame header for a final frame of `length` payload bytes;
    /// `compressed` sets RSV1, permessage-deflate's mark (RFC 7692 section 6).
    public static func writeHeader(opcode: Opcode, length: Int, compressed: Bool = false, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | (compressed ? 0x40 : 0) | opcode.rawValue)
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }

    /// A complete frame around `payload`.
    public static func frame(opcode: Opcode, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.readableBytes + 10)
        self.writeHeader(opcode: opcode, length: payload.readableBytes, into: &buffer)
        buffer.writeImmutableBuffer(payload)
        return buffer
    }

    /// A close frame with a status code and a short reason.
    public static func closeFrame(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(reason)
        return self.frame(opcode: .close, payload: payload, allocator: allocator)
    }
}
