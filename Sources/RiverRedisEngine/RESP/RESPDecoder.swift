import NIOCore

/// Decodes RESP2 replies from a byte stream, one `RESPValue` per complete
/// reply, however the bytes are split. Sizes are bounded: a bulk string over
/// `maxBulkLength`, an array over `maxArrayLength` elements, nested deeper
/// than `maxDepth`, or an integer outside Int64 is a protocol error (the
/// connection is dropped).
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    struct ProtocolError: Error, CustomStringConvertible {
        let description: String
    }

    let maxBulkLength: Int
    let maxArrayLength = 1 << 20
    let maxDepth = 8

    init(maxBulkLength: Int = 512 << 20) {
        self.maxBulkLength = maxBulkLength
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var reader = buffer
        guard let value = try self.parse(&reader, depth: 0) else { return .needMoreData }
        buffer = reader
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    /// Parses one value from the front of `buffer`; nil (and `buffer` in an
    /// unspecified position) when it is not complete yet.
    func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= self.maxDepth else { throw ProtocolError(description: "replies nested too deeply") }
        guard let type = buffer.readInteger(as: UInt8.self), let line = Self.readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(String(buffer: line))
        case UInt8(ascii: "-"):
            return .error(String(buffer: line))
        case UInt8(ascii: ":"):
            return .integer(try Self.integer(line))
        case UInt8(ascii: "$"):
            let length = try Self.integer(line)
            if length == -1 { return .bulkString(nil) }
            guard length >= 0, length <= self.maxBulkLength else {
                throw ProtocolError(description: "bulk string length \(length) out of bounds")
            }
            guard buffer.readableBytes >= Int(length) + 2, let bytes = buffer.readSlice(length: Int(length)) else {
                return nil
            }
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw ProtocolError(description: "bulk string not terminated by CRLF")
            }
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            let count = try Self.integer(line)
            if count == -1 { return .array(nil) }
            guard count >= 0, count <= self.maxArrayLength else {
                throw ProtocolError(description: "array length \(count) out of bounds")
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(min(count, 1024)))
            for _ in 0..<count {
                guard let element = try self.parse(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw ProtocolError(description: "unknown reply type byte \(type)")
        }
    }

    /// The bytes up to CRLF (consumed with it), or nil when no CRLF has arrived.
    private static func readLine(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        guard let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
        let length = end - buffer.readerIndex
        guard buffer.readableBytes >= length + 2 else { return nil }
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }

    private static func integer(_ line: ByteBuffer) throws -> Int64 {
        guard let value = Self.decimal(line.readableBytesView) else {
            throw ProtocolError(description: "expected an integer, got '\(String(buffer: line).prefix(32))'")
        }
        return value
    }

    /// A signed decimal that fits in Int64, read from bytes; nil for anything else (2^64 included).
    static func decimal(_ bytes: some Collection<UInt8>) -> Int64? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else { return nil }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            magnitude = magnitude * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
