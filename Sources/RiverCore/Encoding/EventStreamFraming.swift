import NIOCore

/// Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html):
/// `id:` and `event:` fields, the payload split into one `data:` line per
/// line (CR, LF and CRLF all end a line), and a blank line to dispatch.
public enum EventStreamFraming {
    public static func writeEvent(
        id: UInt64?,
        event: StaticString?,
        data: ByteBuffer,
        into buffer: inout ByteBuffer
    ) {
        if let event {
            buffer.writeStaticString("event: ")
            buffer.writeStaticString(event)
            buffer.writeStaticString("\n")
        }
        if let id {
            buffer.writeStaticString("id: ")
            buffer.writeDecimal(id)
            buffer.writeStaticString("\n")
        }
        data.withUnsafeReadableBytes { bytes in
            var lineStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    Self.writeDataLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<index]), into: &buffer)
                    if byte == UInt8(ascii: "\r") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n") {
                        index += 1
                    }
                    lineStart = index + 1
                }
                index += 1
            }
            Self.writeDataLine(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<bytes.count]), into: &buffer)
        }
        buffer.writeStaticString("\n")
    }

    /// A comment line, ignored by clients; keeps proxies from timing the stream out.
    public static let heartbeat = ByteBuffer(string: ":\n\n")

    private static func writeDataLine(_ line: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("data: ")
        buffer.writeBytes(line)
        buffer.writeStaticString("\n")
    }
}
