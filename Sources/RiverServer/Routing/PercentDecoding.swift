import NIOCore

/// `application/x-www-form-urlencoded` decoding
/// (https://url.spec.whatwg.org/#urlencoded-parsing): `+` is a space and
/// `%XX` a byte. Unlike the WHATWG parser, a `%` not followed by two hex
/// digits is an error: River answers 400 rather than guess.
enum PercentDecoding {
    struct Malformed: Error {}

    /// Decodes `bytes`; returns them unchanged (no copy) when nothing is encoded.
    static func decode(_ bytes: ByteBuffer) throws(Malformed) -> ByteBuffer {
        let view = bytes.readableBytesView
        guard view.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else {
            return bytes
        }
        var output = ByteBuffer()
        output.reserveCapacity(view.count)
        var index = view.startIndex
        while index < view.endIndex {
            let byte = view[index]
            switch byte {
            case UInt8(ascii: "+"):
                output.writeInteger(UInt8(ascii: " "))
                index += 1
            case UInt8(ascii: "%"):
                guard index + 2 < view.endIndex,
                    let high = Self.hexValue(view[index + 1]), let low = Self.hexValue(view[index + 2])
                else {
                    throw Malformed()
                }
                output.writeInteger(high << 4 | low)
                index += 3
            default:
                output.writeInteger(byte)
                index += 1
            }
        }
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
