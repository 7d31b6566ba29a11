/// A validated pub/sub channel name.
///
/// A name is 1 to `maxBytes` bytes of valid UTF-8 with no control characters
/// (they would be invisible in logs and admin listings). It is called
/// `ChannelName` because NIO owns the word "channel" for a connection.
///
/// A name is its bytes: equality, hashing, ordering, the home loop and prefix
/// checks all use the UTF-8 bytes, never Swift's `String` equivalence, so
/// `room-\u{F1}` and `room-n\u{303}` (the same text to Unicode, two byte
/// strings) are two channels everywhere — in every engine, hub and grant.
/// Names are not normalized: a client that wants one channel for both
/// spellings normalizes before it sends.
public struct ChannelName: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The name as text (its bytes are the name).
    public let value: String

    /// Why a name was refused; each case renders as a one-line reason.
    public struct ValidationError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Validates raw (already percent-decoded) bytes.
    public init(validating bytes: some Collection<UInt8>, maxBytes: Int) throws(ValidationError) {
        if bytes.isEmpty {
            throw ValidationError(description: "channel name is empty")
        }
        if bytes.count > maxBytes {
            throw ValidationError(description: "channel name is longer than \(maxBytes) bytes")
        }
        for byte in bytes where byte < 0x20 || byte == 0x7F {
            throw ValidationError(description: "channel name contains a control character")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ValidationError(description: "channel name is not valid UTF-8")
        }
        self.value = text
    }

    /// Validates a name given as text.
    public init(validating text: String, maxBytes: Int) throws(ValidationError) {
        try self.init(validating: Array(text.utf8), maxBytes: maxBytes)
    }

    /// The name's length in bytes.
    public var byteCount: Int { self.value.utf8.count }

    /// Whether the name's bytes begin with `prefix`'s bytes (private prefixes,
    /// token grants, the channel listing).
    public func hasPrefix(bytesOf prefix: String) -> Bool { self.value.utf8HasPrefix(prefix) }

    /// Whether the name sorts after `other` in byte order (listing pages).
    public func sorts(after other: String) -> Bool { other.utf8Precedes(self.value) }

    /// A stable (process-independent) FNV-1a hash of the name's bytes: it picks
    /// the channel's home event loop, so the same name always lands on the same loop.
    public var stableHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in self.value.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The index of the home slot among `count` slots (event loops, shards).
    public func homeIndex(among count: Int) -> Int {
        Int(self.stableHash % UInt64(count))
    }

    public var description: String { self.value }

    public static func == (lhs: ChannelName, rhs: ChannelName) -> Bool { lhs.value.utf8Equals(rhs.value) }

    public func hash(into hasher: inout Hasher) { self.value.utf8Hash(into: &hasher) }

    /// Byte order (which for UTF-8 is code point order).
    public static func < (lhs: ChannelName, rhs: ChannelName) -> Bool { lhs.value.utf8Precedes(rhs.value) }
}
