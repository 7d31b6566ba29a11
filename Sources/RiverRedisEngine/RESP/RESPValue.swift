import NIOCore

/// A value of the Redis serialization protocol, version 2
/// (https://redis.io/docs/latest/develop/reference/protocol-spec/).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    /// An error reply (`-ERR ...`): the command failed, the connection is fine.
    case error(String)
    case integer(Int64)
    /// nil is the null bulk string.
    case bulkString(ByteBuffer?)
    /// nil is the null array.
    case array([RESPValue]?)

    /// The value as text (simple or bulk string, or integer).
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes?): return String(buffer: bytes)
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    /// The value as an integer (integer, or a string of digits).
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .bulkString(let bytes?): return Int64(String(buffer: bytes))
        case .simpleString(let text): return Int64(text)
        default: return nil
        }
    }

    public var bytes: ByteBuffer? {
        if case .bulkString(let bytes) = self { return bytes }
        return nil
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}
