/// The base64url of JWS (RFC 7515 section 2, https://www.rfc-editor.org/rfc/rfc7515#section-2):
/// the URL-safe alphabet of RFC 4648 section 5, no padding, no line breaks
/// or other characters. Decoding is strict: a length no encoding produces,
/// and unused low bits that are not zero (RFC 4648 section 3.5 lets a
/// decoder refuse them), are refused, so one token has one spelling.
enum Base64URL {
    /// The bytes `text` encodes, or nil when it is not canonical unpadded base64url.
    static func decode(_ text: Substring.UTF8View) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            guard let value = Self.value(of: character) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // 2 or 4 leftover bits: they must be zero.
        guard accumulator == 0 else { return nil }
        return bytes
    }

    private static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        default: return nil
        }
    }
}
