/// A JSON value read strictly by RFC 8259 (https://www.rfc-editor.org/rfc/rfc8259):
/// no comments, no trailing commas, no leading zeros, every escape checked,
/// lone surrogates refused; an object naming a member twice is refused (RFC
/// 8259 leaves it open, and two readers could then see two different
/// values). Numbers keep their text, so nothing is rounded or trapped on:
/// whoever needs one converts it with its own range check. Nesting is
/// bounded (`maxDepth`), so no input can exhaust the stack.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number as written (`-0.5e3`).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in the order written; names are unique.
    case object([(String, JSONValue)])

    public static let maxDepth = 16

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Parses `bytes` as one JSON text (surrounding whitespace allowed).
    public static func parse(_ bytes: some Collection<UInt8>) throws(ParseError) -> JSONValue {
        var reader = Reader(Array(bytes))
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.atEnd else { throw ParseError("unexpected bytes after the JSON value") }
        return value
    }

    /// The member named `name` of an object.
    public subscript(member name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0.utf8.elementsEqual(name.utf8) }?.1
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a.utf8.elementsEqual(b.utf8)
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0.utf8.elementsEqual($1.0.utf8) && $0.1 == $1.1 }
        default: return false
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { self.index >= self.bytes.count }

        mutating func skipWhitespace() {
            while self.index < self.bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(self.bytes[self.index]) {
                self.index += 1
            }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard depth < JSONValue.maxDepth else { throw ParseError("nested deeper than \(JSONValue.maxDepth)") }
            guard !self.atEnd else { throw ParseError("unexpected end of JSON") }
            switch self.bytes[self.index] {
            case UInt8(ascii: "{"): return try self.object(depth: depth)
            case UInt8(ascii: "["): return try self.array(depth: depth)
            case UInt8(ascii: "\""): return .string(try self.string())
            case UInt8(ascii: "t"): return try self.literal("true", .bool(true))
            case UInt8(ascii: "f"): return try self.literal("false", .bool(false))
            case UInt8(ascii: "n"): return try self.literal("null", .null)
            default: return .number(try self.number())
            }
        }

        mutating func literal(_ text: StaticString, _ value: JSONValue) throws(ParseError) -> JSONValue {
            let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
            guard self.index + expected.count <= self.bytes.count,
                self.bytes[self.index..<(self.index + expected.count)].elementsEqual(expected)
            else { throw ParseError("unexpected character in JSON") }
            self.index += expected.count
            return value
        }

        mutating func object(depth: Int) throws(ParseError) -> JSONValue {
            self.index += 1
            var members: [(String, JSONValue)] = []
            var names = Set<[UInt8]>()
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "}")) { return .object(members) }
            while true {
                self.skipWhitespace()
                guard !self.atEnd, self.bytes[self.index] == UInt8(ascii: "\"") else {
                    throw ParseError("an object member must start with a name")
                }
                let name = try self.string()
                guard names.insert(Array(name.utf8)).inserted else {
                    throw ParseError("the member \"\(name.prefix(40))\" appears twice")
                }
                self.skipWhitespace()
                guard self.consume(UInt8(ascii: ":")) else { throw ParseError("expected ':' after a member name") }
                self.skipWhitespace()
                members.append((name, try self.value(depth: depth + 1)))
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "}")) { return .object(members) }
                guard self.consume(UInt8(ascii: ",")) else { throw ParseError("expected ',' or '}' in an object") }
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> JSONValue {
            self.index += 1
            var elements: [JSONValue] = []
            self.skipWhitespace()
            if self.consume(UInt8(ascii: "]")) { return .array(elements) }
            while true {
                self.skipWhitespace()
                elements.append(try self.value(depth: depth + 1))
                self.skipWhitespace()
                if self.consume(UInt8(ascii: "]")) { return .array(elements) }
                guard self.consume(UInt8(ascii: ",")) else { throw ParseError("expected ',' or ']' in an array") }
            }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard !self.atEnd, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(ParseError) -> String {
            let start = self.index
            _ = self.consume(UInt8(ascii: "-"))
            guard let first = self.peekDigit() else { throw ParseError("unexpected character in JSON") }
            self.index += 1
            if first != 0 { while self.peekDigit() != nil { self.index += 1 } }
            if self.consume(UInt8(ascii: ".")) {
                guard self.peekDigit() != nil else { throw ParseError("a number needs digits after '.'") }
                while self.peekDigit() != nil { self.index += 1 }
            }
            if self.consume(UInt8(ascii: "e")) || self.consume(UInt8(ascii: "E")) {
                if !self.consume(UInt8(ascii: "+")) { _ = self.consume(UInt8(ascii: "-")) }
                guard self.peekDigit() != nil else { throw ParseError("a number needs digits in its exponent") }
                while self.peekDigit() != nil { self.index += 1 }
            }
            return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        }

        func peekDigit() -> UInt8? {
            guard !self.atEnd, self.bytes[self.index] >= 0x30, self.bytes[self.index] <= 0x39 else { return nil }
            return self.bytes[self.index] - 0x30
        }

        mutating func string() throws(ParseError) -> String {
            self.index += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            while true {
                guard !self.atEnd else { throw ParseError("unterminated string") }
                let byte = self.bytes[self.index]
                self.index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    try self.flush(&raw, into: &scalars)
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try self.flush(&raw, into: &scalars)
                    scalars.append(try self.escape())
                case 0x00..<0x20:
                    throw ParseError("a control character in a string must be escaped")
                default:
                    raw.append(byte)
                }
            }
        }

        /// Appends the raw UTF-8 run read so far (it must be valid UTF-8).
        func flush(_ raw: inout [UInt8], into scalars: inout String.UnicodeScalarView) throws(ParseError) {
            guard !raw.isEmpty else { return }
            guard let text = String(validating: raw, as: UTF8.self) else { throw ParseError("a string is not UTF-8") }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }

        mutating func escape() throws(ParseError) -> Unicode.Scalar {
            guard !self.atEnd else { throw ParseError("unterminated escape") }
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{8}"
            case UInt8(ascii: "f"): return "\u{C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let unit = try self.hex4()
                if (0xD800..<0xDC00).contains(unit) {
                    guard self.consume(UInt8(ascii: "\\")), self.consume(UInt8(ascii: "u")) else {
                        throw ParseError("a lone surrogate in a string")
                    }
                    let low = try self.hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw ParseError("a lone surrogate in a string") }
                    return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
                }
                guard let scalar = Unicode.Scalar(unit) else { throw ParseError("a lone surrogate in a string") }
                return scalar
            default:
                throw ParseError("an unknown escape in a string")
            }
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard self.index + 4 <= self.bytes.count else { throw ParseError("a \\u escape needs four hex digits") }
            var value: UInt32 = 0
            for byte in self.bytes[self.index..<(self.index + 4)] {
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw ParseError("a \\u escape needs four hex digits")
                }
                value = value << 4 | digit
            }
            self.index += 4
            return value
        }
    }
}
