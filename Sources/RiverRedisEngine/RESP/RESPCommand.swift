import NIOCore

/// A command as Redis reads it: an array of bulk strings.
public struct RESPCommand: Sendable {
    public enum Argument: Sendable {
        case text(String)
        case bytes(ByteBuffer)
        case integer(Int64)
    }

    public let arguments: [Argument]

    public init(_ name: String, _ arguments: [Argument] = []) {
        self.arguments = [.text(name)] + arguments
    }

    public init(_ name: String, _ arguments: String...) {
        self.init(name, arguments.map { .text($0) })
    }

    /// Appends the command's wire form to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(self.arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in self.arguments {
            switch argument {
            case .text(let text):
                Self.writeBulk(utf8Count: text.utf8.count, into: &buffer) { $0.writeString(text) }
            case .bytes(let bytes):
                Self.writeBulk(utf8Count: bytes.readableBytes, into: &buffer) { $0.writeImmutableBuffer(bytes) }
            case .integer(let value):
                let text = String(value)
                Self.writeBulk(utf8Count: text.utf8.count, into: &buffer) { $0.writeString(text) }
            }
        }
    }

    private static func writeBulk(utf8Count: Int, into buffer: inout ByteBuffer, _ body: (inout ByteBuffer) -> Void) {
        buffer.writeStaticString("$")
        buffer.writeString(String(utf8Count))
        buffer.writeStaticString("\r\n")
        body(&buffer)
        buffer.writeStaticString("\r\n")
    }
}
