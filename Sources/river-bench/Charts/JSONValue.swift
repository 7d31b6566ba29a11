/// A JSON value read in order: objects keep their members as written and
/// numbers their text (`0.500` stays `0.500`), which `JSONSerialization`
/// loses — a report shows a run's figures as the run printed them
/// (RFC 8259: https://www.rfc-editor.org/rfc/rfc8259).
enum JSONValue: Equatable {
    case object([Member])
    case array([JSONValue])
    case string(String)
    /// The number as written.
    case number(String)
    case bool(Bool)
    case null

    /// One member of an object.
    struct Member: Equatable {
        let key: String
        let value: JSONValue
    }

    /// Why a text is not JSON.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The value `text` holds, the whole of it.
    init(parsing text: String) throws {
        var reader = Reader(bytes: Array(text.utf8))
        self = try reader.value()
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw reader.failure("text after the value") }
    }

    /// The member `key` of an object (nil for anything else).
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// A number's value.
    var double: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// An array of numbers' values.
    var doubles: [Double]? {
        guard case .array(let items) = self else { return nil }
        let values = items.compactMap(\.double)
        return values.count == items.count ? values : nil
    }
}

/// A recursive-descent reader over UTF-8 bytes.
private struct Reader {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func failure(_ what: String) -> JSONValue.Failure {
        JSONValue.Failure(description: "not JSON at byte \(self.index): \(what)")
    }

    mutating func skipSpace() {
        while self.index < self.bytes.count, [9, 10, 13, 32].contains(self.bytes[self.index]) { self.index += 1 }
    }

    mutating func value() throws -> JSONValue {
        self.skipSpace()
        guard self.index < self.bytes.count else { throw self.failure("the text ends") }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return try self.object()
        case UInt8(ascii: "["): return try self.array()
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "t"): return try self.word("true", .bool(true))
        case UInt8(ascii: "f"): return try self.word("false", .bool(false))
        case UInt8(ascii: "n"): return try self.word("null", .null)
        default: return try self.number()
        }
    }

    private mutating func object() throws -> JSONValue {
        self.index += 1
        var members: [JSONValue.Member] = []
        self.skipSpace()
        if self.take(UInt8(ascii: "}")) { return .object(members) }
        repeat {
            self.skipSpace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                throw self.failure("a member's name expected")
            }
            let key = try self.string()
            self.skipSpace()
            guard self.take(UInt8(ascii: ":")) else { throw self.failure("':' expected") }
            members.append(JSONValue.Member(key: key, value: try self.value()))
            self.skipSpace()
        } while self.take(UInt8(ascii: ","))
        guard self.take(UInt8(ascii: "}")) else { throw self.failure("'}' expected") }
        return .object(members)
    }

    private mutating func array() throws -> JSONValue {
        self.index += 1
        var items: [JSONValue] = []
        self.skipSpace()
        if self.take(UInt8(ascii: "]")) { return .array(items) }
        repeat {
            items.append(try self.value())
            self.skipSpace()
        } while self.take(UInt8(ascii: ","))
        guard self.take(UInt8(ascii: "]")) else { throw self.failure("']' expected") }
        return .array(items)
    }

    private mutating func string() throws -> String {
        self.index += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                return String(scalars)
            case UInt8(ascii: "\\"):
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll()
                scalars.append(try self.escape())
            case 0..<0x20:
                throw self.failure("a control character in a string")
            default:
                run.append(byte)
            }
        }
        throw self.failure("an unterminated string")
    }

    private mutating func escape() throws -> Unicode.Scalar {
        guard self.index < self.bytes.count else { throw self.failure("the text ends in an escape") }
        let byte = self.bytes[self.index]
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(byte)
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            var code = try self.hex4()
            if (0xD800..<0xDC00).contains(code), self.take(UInt8(ascii: "\\")), self.take(UInt8(ascii: "u")) {
                code = 0x10000 + ((code - 0xD800) << 10) + (try self.hex4() - 0xDC00)
            }
            return Unicode.Scalar(code) ?? "\u{FFFD}"
        default: throw self.failure("an unknown escape")
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard self.index + 4 <= self.bytes.count,
            let code = UInt32(String(decoding: self.bytes[self.index..<(self.index + 4)], as: UTF8.self), radix: 16)
        else { throw self.failure("four hex digits expected") }
        self.index += 4
        return code
    }

    private mutating func number() throws -> JSONValue {
        let start = self.index
        let allowed = Set("+-0123456789.eE".utf8)
        while self.index < self.bytes.count, allowed.contains(self.bytes[self.index]) { self.index += 1 }
        let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        guard !text.isEmpty, Double(text) != nil else { throw self.failure("a value expected") }
        return .number(text)
    }

    private mutating func word(_ word: String, _ value: JSONValue) throws -> JSONValue {
        let expected = Array(word.utf8)
        guard self.bytes[self.index...].starts(with: expected) else { throw self.failure("'\(word)' expected") }
        self.index += expected.count
        return value
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
        self.index += 1
        return true
    }
}
