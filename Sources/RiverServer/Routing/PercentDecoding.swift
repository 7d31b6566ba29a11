import NIOCore

/// `application/x-www-form-urlencoded` decoding
/// (https://url.spec.whatwg.org/#urlencoded-parsing): `+` is a space and
/// `%XX` a byte. Unlike the WHATWG parser, a `%` not followed by two hex
/// digits is an error: River answers 400 rather than guess.
enum PercentDecoding {
    struct Malformed: Error {}

    /// Decodes `bytes`; returns them unchanged (no copy) when nothing is encoded.
    /// In a path (`plusIsSpace` false) `+` is itself.
    static func decode(_ bytes: ByteBuffer, plusIsSpace: Bool = true) throws(Malformed) -> ByteBuffer {
        guard
            bytes.readableOffset(of: UInt8(ascii: "%")) != nil
                || (plusIsSpace && bytes.readableOffset(of: UInt8(ascii: "+")) != nil)
        else {
            return bytes
        }
        var output = ByteBuffer()
        var valid = true
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.readableBytes) { target in
            bytes.withUnsafeReadableBytes { source in
                var read = 0
                var written = 0
                while read < source.count {
                    let byte = source[read]
                    if byte == UInt8(ascii: "+") && plusIsSpace {
                        target[written] = UInt8(ascii: " ")
                        read += 1
                    } else if byte == UInt8(ascii: "%") {
                        guard read + 2 < source.count, let high = Self.hexValue(source[read + 1]),
                            let low = Self.hexValue(source[read + 2])
                        else {
                            valid = false
                            return 0
                        }
                        target[written] = high << 4 | low
                        read += 3
                    } else {
                        target[written] = byte
                        read += 1
                    }
                    written += 1
                }
                return written
            }
        }
        guard valid else { throw Malformed() }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
