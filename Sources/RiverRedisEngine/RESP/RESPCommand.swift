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

    /// Appends the command's wire form to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        Self.writeDecimal(Int64(self.arguments.count + 1), into: &buffer)
        buffer.writeStaticString("\r\n")
        Self.writeBulk(length: self.name.utf8.count, into: &buffer) { $0.writeString(self.name) }
        for argument in self.arguments {
            switch argument {
            case .text(let text):
                Self.writeBulk(length: text.utf8.count, into: &buffer) { $0.writeString(text) }
            case .bytes(let bytes):
                Self.writeBulk(length: bytes.readableBytes, into: &buffer) { $0.writeImmutableBuffer(bytes) }
            case .integer(let value):
                Self.writeBulk(length: Self.decimalLength(value), into: &buffer) { Self.writeDecimal(value, into: &$0) }
            case .key(let channel, let suffix):
                let length = RedisKeys.prefix.utf8CodeUnitCount + channel.value.utf8.count + 2 + suffix.utf8CodeUnitCount
                Self.writeBulk(length: length, into: &buffer) { buffer in
                    buffer.writeStaticString(RedisKeys.prefix)
                    buffer.writeStaticString("{")
                    buffer.writeString(channel.value)
                    buffer.writeStaticString("}")
                    buffer.writeStaticString(suffix)
                }
            }
        }
    }

    private static func writeBulk(length: Int, into buffer: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        buffer.writeStaticString("$")
        Self.writeDecimal(Int64(length), into: &buffer)
        buffer.writeStaticString("\r\n")
        body(&buffer)
        buffer.writeStaticString("\r\n")
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

    /// Writes `value` in decimal ASCII without making a `String`.
    static func writeDecimal(_ value: Int64, into buffer: inout ByteBuffer) {
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(magnitude / divisor))
            magnitude %= divisor
            divisor /= 10
        }
    }
}
