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
    public static func writeHeader(opcode: Opcode, length: Int, compressed: Bool = false, into buffer: inout ByteBuffer)
    {
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

    /// The most bytes of reason a close frame carries: a control frame's
    /// payload is at most 125 bytes (RFC 6455 section 5.5), two of them the code.
    public static let maxCloseReasonBytes = 123

    /// A close frame with a status code and a reason, cut to
    /// `maxCloseReasonBytes` on a character boundary (a longer control frame
    /// is a protocol error to the client; a reason naming a channel and a
    /// Redis shard can be longer).
    public static func closeFrame(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 2 + min(reason.utf8.count, Self.maxCloseReasonBytes))
        payload.writeInteger(code)
        var room = Self.maxCloseReasonBytes
        payload.writeSubstring(
            reason.prefix { character in
                room -= character.utf8.count
                return room >= 0
            }
        )
        return self.frame(opcode: .close, payload: payload, allocator: allocator)
    }
}
