import NIOCore
import RiverCore

/// A command as Redis reads it: an array of bulk strings, written straight
/// into the connection's output buffer (no intermediate strings on the
/// publish path).
public struct RESPCommand: Sendable {
    public enum Argument: Sendable {
        case text(String)
        case bytes(ByteBuffer)
        case integer(Int64)
        /// A channel's Redis key, `PREFIX{NAME}SUFFIX`, written from the name's bytes.
        case key(ChannelName, suffix: StaticString)

        /// Its length in bytes on the wire (inside the bulk string).
        var length: Int {
            switch self {
            case .text(let text): return text.utf8.count
            case .bytes(let bytes): return bytes.readableBytes
            case .integer(let value): return RESPCommand.decimalLength(value)
            case .key(let channel, let suffix):
                return RedisKeys.prefix.utf8CodeUnitCount + 1 + channel.value.utf8.count + 1 + suffix.utf8CodeUnitCount
            }
        }
    }

    public let name: String
    public let arguments: [Argument]

    public init(_ name: String, _ arguments: [Argument] = []) {
        self.name = name
        self.arguments = arguments
    }

    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments.map { .text($0) })
    }

    /// Appends the command's wire form to `buffer`, in one write: the size
    /// is worked out first, then the bytes are copied in (the publish path
    /// writes one of these per message, and small `ByteBuffer` writes each
    /// pay their own checks).
    public func write(into buffer: inout ByteBuffer) {
        var total = 1 + Self.decimalLength(Int64(self.arguments.count + 1)) + 2
        total += Self.bulkSize(self.name.utf8.count)
        for argument in self.arguments {
            total += Self.bulkSize(argument.length)
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { raw in
            var writer = Writer(base: raw.baseAddress!)
            writer.byte(UInt8(ascii: "*"))
            writer.decimal(Int64(self.arguments.count + 1))
            writer.crlf()
            var name = self.name
            name.withUTF8 { writer.bulk($0) }
            for argument in self.arguments {
                writer.bulkHeader(argument.length)
                switch argument {
                case .text(var text):
                    text.withUTF8 { writer.bytes($0) }
                case .bytes(let bytes):
                    bytes.withUnsafeReadableBytes {
                        writer.bytes(
                            UnsafeBufferPointer(
                                start: $0.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                count: $0.count
                            )
                        )
                    }
                case .integer(let value):
                    writer.decimal(value)
                case .key(let channel, let suffix):
                    writer.staticString(RedisKeys.prefix)
                    writer.byte(UInt8(ascii: "{"))
                    var name = channel.value
                    name.withUTF8 { writer.bytes($0) }
                    writer.byte(UInt8(ascii: "}"))
                    writer.staticString(suffix)
                }
                writer.crlf()
            }
            precondition(writer.count == total, "RESP size worked out wrong")
            return total
        }
    }

    private static func bulkSize(_ length: Int) -> Int {
        1 + Self.decimalLength(Int64(length)) + 2 + length + 2
    }

    /// Copies bytes to raw memory sized beforehand.
    private struct Writer {
        let base: UnsafeMutableRawPointer
        var count = 0

        mutating func byte(_ byte: UInt8) {
            self.base.storeBytes(of: byte, toByteOffset: self.count, as: UInt8.self)
            self.count += 1
        }

        mutating func bytes(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard let start = bytes.baseAddress, bytes.count > 0 else { return }
            (self.base + self.count).copyMemory(from: start, byteCount: bytes.count)
            self.count += bytes.count
        }

        mutating func staticString(_ text: StaticString) {
            self.bytes(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }

        mutating func crlf() {
            self.byte(13)
            self.byte(10)
        }

        mutating func decimal(_ value: Int64) {
            if value < 0 { self.byte(UInt8(ascii: "-")) }
            var magnitude = value.magnitude
            var divisor: UInt64 = 1
            while magnitude / divisor >= 10 { divisor *= 10 }
            while divisor > 0 {
                self.byte(UInt8(ascii: "0") + UInt8(magnitude / divisor))
                magnitude %= divisor
                divisor /= 10
            }
        }

        mutating func bulkHeader(_ length: Int) {
            self.byte(UInt8(ascii: "$"))
            self.decimal(Int64(length))
            self.crlf()
        }

        mutating func bulk(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bulkHeader(bytes.count)
            self.bytes(bytes)
            self.crlf()
        }
    }

    /// The number of bytes of `value` in decimal.
    static func decimalLength(_ value: Int64) -> Int {
        var magnitude = value.magnitude
        var length = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            length += 1
        }
        return length
    }
}
