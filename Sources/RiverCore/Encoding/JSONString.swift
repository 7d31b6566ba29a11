import NIOCore

/// Writes JSON string literals escaped per RFC 8259 section 7
/// (https://www.rfc-editor.org/rfc/rfc8259#section-7).
///
/// Quote, backslash and every control character are escaped; so are U+2028 and
/// U+2029, which are legal in JSON but end a line in older JavaScript engines,
/// and the river JSON is also executed as JavaScript (JSONP). Everything else,
/// any UTF-8 included, is copied through unchanged.
public enum JSONString {
    /// Writes `"escaped bytes"` into `buffer`.
    public static func write(_ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { source in
            Self.write(UnsafeRawBufferPointer(source), into: &buffer)
        }
    }

    /// Writes `"escaped text"` into `buffer`.
    public static func write(_ text: String, into buffer: inout ByteBuffer) {
        var text = text
        text.withUTF8 { Self.write(UnsafeRawBufferPointer($0), into: &buffer) }
    }

    /// The length `write` will produce for `text`, quotes included.
    public static func encodedLength(_ text: String) -> Int {
        var length = 2
        var previous: (UInt8, UInt8) = (0, 0)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09, 0x08, 0x0C: length += 2
            case 0x00..<0x20: length += 6
            // The third byte of U+2028 or U+2029: its three bytes become six.
            case 0xA8...0xA9 where previous == (0xE2, 0x80): length += 4
            default: length += 1
            }
            previous = (previous.1, byte)
        }
        return length
    }

    /// The escaped literal as a `String` (for small, rare values such as error bodies).
    public static func literal(_ text: String) -> String {
        var buffer = ByteBuffer()
        Self.write(text, into: &buffer)
        return String(buffer: buffer)
    }

    private static func write(_ source: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var runStart = 0
        var index = 0
        let count = source.count
        while index < count {
            let byte = source[index]
            let escape: StaticString?
            var width = 1
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case 0x0A: escape = "\\n"
            case 0x0D: escape = "\\r"
            case 0x09: escape = "\\t"
            case 0x08: escape = "\\b"
            case 0x0C: escape = "\\f"
            case 0x00..<0x20: escape = ""  // \u00XX below
            case 0xE2
            where index + 2 < count && source[index + 1] == 0x80
                && (source[index + 2] == 0xA8 || source[index + 2] == 0xA9):
                escape = source[index + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                width = 3
            default: escape = nil
            }
            guard let escape else {
                index += 1
                continue
            }
            if runStart < index {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: source[runStart..<index]))
            }
            if escape.utf8CodeUnitCount == 0 {
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(Self.hexDigit(byte >> 4))
                buffer.writeInteger(Self.hexDigit(byte & 0x0F))
            } else {
                buffer.writeStaticString(escape)
            }
            index += width
            runStart = index
        }
        if runStart < count {
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: source[runStart..<count]))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}

extension ByteBuffer {
    /// Writes a non-negative integer in decimal without going through `String`.
    @inlinable
    public mutating func writeDecimal(_ value: UInt64) {
        if value < 10 {
            self.writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes of scratch, 20 needed
        let written = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var remaining = value
            var position = scratch.count
            while remaining > 0 {
                position -= 1
                scratch[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            return position
        }
        withUnsafeBytes(of: &digits) { scratch in
            _ = self.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[written...]))
        }
    }
}
