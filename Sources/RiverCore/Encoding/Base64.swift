import NIOCore

/// Standard base64 (RFC 4648 section 4, https://www.rfc-editor.org/rfc/rfc4648#section-4),
/// with padding: the WebSocket handshake's keys, and binary messages where a
/// wire format needs text (river JSON, Server-Sent Events).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The encoded length of `count` bytes.
    public static func encodedLength(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    public static func encode(_ bytes: [UInt8]) -> String {
        var buffer = ByteBuffer()
        bytes.withUnsafeBytes { Self.write($0, into: &buffer) }
        return String(buffer: buffer)
    }

    /// Appends the encoding of `bytes`' readable bytes to `buffer`.
    public static func write(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { Self.write($0, into: &buffer) }
    }

    private static func write(_ input: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        let length = Self.encodedLength(input.count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output in
            Self.alphabet.withUnsafeBufferPointer { alphabet in
                var index = 0
                var position = 0
                while index < input.count {
                    let remaining = input.count - index
                    let first = UInt32(input[index])
                    let second = remaining > 1 ? UInt32(input[index + 1]) : 0
                    let third = remaining > 2 ? UInt32(input[index + 2]) : 0
                    let value = first << 16 | second << 8 | third
                    output[position] = alphabet[Int(value >> 18 & 0x3F)]
                    output[position + 1] = alphabet[Int(value >> 12 & 0x3F)]
                    output[position + 2] = remaining > 1 ? alphabet[Int(value >> 6 & 0x3F)] : UInt8(ascii: "=")
                    output[position + 3] = remaining > 2 ? alphabet[Int(value & 0x3F)] : UInt8(ascii: "=")
                    index += 3
                    position += 4
                }
            }
            return length
        }
    }

    /// The decoded length of a well-formed base64 string, or nil.
    public static func decodedLength(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard padding <= 2,
            bytes.dropLast(padding).allSatisfy({ Self.alphabet.contains($0) })
        else { return nil }
        return bytes.count / 4 * 3 - padding
    }
}
