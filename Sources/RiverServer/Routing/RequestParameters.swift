import NIOCore
import RiverCore

/// A request's parameters: the query string and, for form-encoded bodies, the
/// body (which wins for the keys it names). Values are percent-decoded when
/// read, so a parameter nobody asks for is never decoded.
public struct RequestParameters {
    private let query: ByteBuffer
    private let formBody: ByteBuffer?

    /// Nothing is split or copied here: a lookup scans the raw bytes, which
    /// for the two or three keys a request needs is cheaper than building a table.
    public init(query: ByteBuffer, formBody: ByteBuffer? = nil) {
        self.query = query
        self.formBody = formBody
    }

    /// Whether the key is present (even with an empty value).
    public func contains(_ key: String) -> Bool {
        self.raw(key) != nil
    }

    /// The decoded bytes of a parameter, or nil when absent.
    public func bytes(_ key: String) throws(RequestError) -> ByteBuffer? {
        guard let raw = self.raw(key) else { return nil }
        do {
            return try PercentDecoding.decode(raw)
        } catch {
            throw .invalidParameter(key, "malformed percent-encoding")
        }
    }

    /// The decoded value as text; it must be valid UTF-8.
    public func string(_ key: String) throws(RequestError) -> String? {
        guard let bytes = try self.bytes(key) else { return nil }
        let valid = bytes.withUnsafeReadableBytes { UTF8Validation.isValid($0) }
        guard valid else { throw .invalidParameter(key, "not valid UTF-8") }
        return String(buffer: bytes)
    }

    /// A non-negative decimal integer (`CheckedNumber`): 400 with a reason
    /// when it is not one or does not fit in 64 bits.
    public func unsignedInteger(_ key: String) throws(RequestError) -> UInt64? {
        guard let text = try self.string(key) else { return nil }
        do {
            return try CheckedNumber.parse(text)
        } catch {
            throw .invalidParameter(key, error.description)
        }
    }

    /// A non-negative decimal integer within `range` (`CheckedNumber`): 400
    /// with a reason otherwise.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(RequestError) -> Int? {
        guard let text = try self.string(key) else { return nil }
        do {
            return try CheckedNumber.parse(text, in: range)
        } catch {
            throw .invalidParameter(key, error.description)
        }
    }

    /// Every decoded value of `key`, in order: the body's when it names the
    /// key, else the query's. `limit` bounds how many are read.
    public func allBytes(_ key: String, limit: Int) throws(RequestError) -> [ByteBuffer] {
        var raws: [ByteBuffer] = []
        if let formBody { Self.find(key, in: formBody, limit: limit) { raws.append($0) } }
        if raws.isEmpty { Self.find(key, in: self.query, limit: limit) { raws.append($0) } }
        var values: [ByteBuffer] = []
        values.reserveCapacity(raws.count)
        for raw in raws {
            do {
                values.append(try PercentDecoding.decode(raw))
            } catch {
                throw .invalidParameter(key, "malformed percent-encoding")
            }
        }
        return values
    }

    /// The raw (still encoded) value of the first `key` in the body, else in the query.
    private func raw(_ key: String) -> ByteBuffer? {
        var found: ByteBuffer?
        if let formBody { Self.find(key, in: formBody, limit: 1) { found = $0 } }
        if found == nil { Self.find(key, in: self.query, limit: 1) { found = $0 } }
        return found
    }

    /// Calls `body` with the raw value of each `key` in `bytes`, at most `limit` times.
    private static func find(_ key: String, in bytes: ByteBuffer, limit: Int, _ body: (ByteBuffer) -> Void) {
        var start = 0
        var found = 0
        let count = bytes.readableBytes
        while start < count && found < limit {
            let end = bytes.readableOffset(of: UInt8(ascii: "&"), from: start) ?? count
            if end > start {
                let equals = bytes.readableOffset(of: UInt8(ascii: "="), from: start).map { min($0, end) } ?? end
                if Self.keyMatches(bytes.readableSlice(offset: start, length: equals - start), key) {
                    let valueStart = min(equals + 1, end)
                    body(bytes.readableSlice(offset: valueStart, length: end - valueStart))
                    found += 1
                }
            }
            start = end + 1
        }
    }

    private static func keyMatches(_ raw: ByteBuffer, _ key: String) -> Bool {
        if raw.readableBytesEqual(key) { return true }
        guard raw.readableOffset(of: UInt8(ascii: "%")) != nil || raw.readableOffset(of: UInt8(ascii: "+")) != nil,
            let decoded = try? PercentDecoding.decode(raw)
        else { return false }
        return decoded.readableBytesEqual(key)
    }
}

extension RequestParameters {
    /// The `name` parameter as a validated channel name.
    public func channelName(maxBytes: Int) throws(RequestError) -> ChannelName {
        guard let bytes = try self.bytes("name") else { throw .missingParameter("name") }
        return try Self.channelName(bytes, maxBytes: maxBytes)
    }

    /// Every `name` parameter as a validated channel name, in the order first
    /// named; a name repeated (the same bytes) counts once. More than `max`
    /// distinct names is 400.
    public func channelNames(maxBytes: Int, max: Int) throws(RequestError) -> [ChannelName] {
        // (Every one is read: the request's size bounds how many there can be.)
        let values = try self.allBytes("name", limit: .max)
        guard !values.isEmpty else { throw .missingParameter("name") }
        var names: [ChannelName] = []
        var seen = Set<ChannelName>()
        for value in values {
            let name = try Self.channelName(value, maxBytes: maxBytes)
            guard seen.insert(name).inserted else { continue }
            guard names.count < max else {
                throw .invalidParameter(
                    "name",
                    "more than \(max) channels in one request (max_channels_per_connection)"
                )
            }
            names.append(name)
        }
        return names
    }

    private static func channelName(_ bytes: ByteBuffer, maxBytes: Int) throws(RequestError) -> ChannelName {
        do {
            return try bytes.withUnsafeReadableBytes { raw throws(ChannelName.ValidationError) in
                try ChannelName(validating: raw, maxBytes: maxBytes)
            }
        } catch {
            throw .invalidParameter("name", error.description)
        }
    }
}
