/// A strict JSON parser for small untrusted documents (token headers and
/// claims): exactly the grammar of RFC 8259 (https://www.rfc-editor.org/rfc/rfc8259),
/// plus what the standards that use it leave to the recipient, decided the
/// safe way:
///
/// - the text must be UTF-8 (RFC 8259 section 8.1), without a byte order mark;
/// - a name given twice in one object, at any depth, is refused. RFC 8259
///   section 4 leaves duplicates' meaning open, RFC 7515 section 4 and
///   RFC 7519 section 4 let a recipient refuse them, and refusing is the only
///   answer on which every parser agrees (one that keeps the first and one
///   that keeps the last would read two different tokens). Names are
///   compared as Swift strings — canonically equivalent names are the same
///   name — because that is how a `Dictionary` or a `Decodable` further on
///   would conflate them;
/// - an escaped lone surrogate (`"\ud800"`) is refused: it is not a Unicode
///   string (RFC 7493 section 2.1, https://www.rfc-editor.org/rfc/rfc7493#section-2.1);
/// - arrays and objects nest at most `maxDepth` deep, so hostile nesting
///   cannot exhaust the stack.
public struct JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0

    /// Parses `bytes` as one JSON text.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        let valid = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
        guard valid else { throw .invalidUTF8 }
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw .syntax(at: parser.index) }
        return value
    }

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        switch self.current {
        case UInt8(ascii: "{")?: return try self.object(depth: depth + 1)
        case UInt8(ascii: "[")?: return try self.array(depth: depth + 1)
        case UInt8(ascii: "\"")?: return .string(try self.string())
        case UInt8(ascii: "t")?: return try self.literal("true", .bool(true))
        case UInt8(ascii: "f")?: return try self.literal("false", .bool(false))
        case UInt8(ascii: "n")?: return try self.literal("null", .null)
        default: return .number(try self.number())
        }
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= self.maxDepth else { throw .tooDeep(limit: self.maxDepth) }
        self.index += 1
        var members: [JSONValue.Member] = []
        var names = Set<String>()
        self.skipWhitespace()
        if self.current == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.current == UInt8(ascii: "\"") else { throw .syntax(at: self.index) }
            let name = try self.string()
            guard names.insert(name).inserted else { throw .duplicate(name) }
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"))
            self.skipWhitespace()
            members.append(JSONValue.Member(name, try self.value(depth: depth)))
            self.skipWhitespace()
            if self.current == UInt8(ascii: "}") {
                self.index += 1
                return .object(members)
            }
            try self.expect(UInt8(ascii: ","))
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= self.maxDepth else { throw .tooDeep(limit: self.maxDepth) }
        self.index += 1
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if self.current == UInt8(ascii: "]") {
            self.index += 1
            return .array(elements)
        }
        while true {
            self.skipWhitespace()
            elements.append(try self.value(depth: depth))
            self.skipWhitespace()
            if self.current == UInt8(ascii: "]") {
                self.index += 1
                return .array(elements)
            }
            try self.expect(UInt8(ascii: ","))
        }
    }

    /// A string literal, the opening quote at `index`; the input is valid UTF-8 already.
    private mutating func string() throws(JSONParseError) -> String {
        self.index += 1
        var utf8: [UInt8] = []
        var runStart = self.index
        while let byte = self.current {
            switch byte {
            case UInt8(ascii: "\""):
                utf8.append(contentsOf: self.bytes[runStart..<self.index])
                self.index += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                utf8.append(contentsOf: self.bytes[runStart..<self.index])
                utf8.append(contentsOf: try self.escape().utf8)
                runStart = self.index
            case 0x00..<0x20:
                throw .syntax(at: self.index)
            default:
                self.index += 1
            }
        }
        throw .syntax(at: self.index)
    }

    /// One escape sequence, the backslash at `index` (RFC 8259 section 7).
    private mutating func escape() throws(JSONParseError) -> Unicode.Scalar {
        let start = self.index
        self.index += 1
        guard let byte = self.current else { throw .syntax(at: start) }
        self.index += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try self.hexQuad()
            switch unit {
            case 0xD800..<0xDC00:
                guard self.current == UInt8(ascii: "\\"), self.index + 1 < self.bytes.count,
                    self.bytes[self.index + 1] == UInt8(ascii: "u")
                else { throw .loneSurrogate }
                self.index += 2
                let low = try self.hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw .loneSurrogate }
                let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                return Unicode.Scalar(value)!
            case 0xDC00..<0xE000:
                throw .loneSurrogate
            default:
                return Unicode.Scalar(unit)!
            }
        default:
            throw .syntax(at: start)
        }
    }

    private mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = self.current else { throw .syntax(at: self.index) }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw .syntax(at: self.index)
            }
            value = value << 4 | UInt32(digit)
            self.index += 1
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 section 6), as its text.
    private mutating func number() throws(JSONParseError) -> String {
        let start = self.index
        if self.current == UInt8(ascii: "-") { self.index += 1 }
        if self.current == UInt8(ascii: "0") {
            self.index += 1
        } else {
            guard let first = self.current, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else {
                throw .syntax(at: self.index)
            }
            self.skipDigits()
        }
        if self.current == UInt8(ascii: ".") {
            self.index += 1
            guard self.skipDigits() > 0 else { throw .syntax(at: self.index) }
        }
        if self.current == UInt8(ascii: "e") || self.current == UInt8(ascii: "E") {
            self.index += 1
            if self.current == UInt8(ascii: "+") || self.current == UInt8(ascii: "-") { self.index += 1 }
            guard self.skipDigits() > 0 else { throw .syntax(at: self.index) }
        }
        return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = self.index
        while let byte = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { self.index += 1 }
        return self.index - start
    }

    private mutating func literal(_ text: StaticString, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let count = text.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw .syntax(at: self.index) }
        for offset in 0..<count where self.bytes[self.index + offset] != text.utf8Start[offset] {
            throw .syntax(at: self.index + offset)
        }
        self.index += count
        return value
    }

    private mutating func expect(_ byte: UInt8) throws(JSONParseError) {
        guard self.current == byte else { throw .syntax(at: self.index) }
        self.index += 1
    }

    /// Space, tab, line feed and carriage return: JSON's whitespace, nothing else.
    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
            self.index += 1
        }
    }
}

/// Why `JSONParser` refused a text; `description` is one short line.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    private enum Kind: Equatable, Sendable {
        case syntax(at: Int)
        case invalidUTF8
        case loneSurrogate
        case tooDeep(limit: Int)
        case duplicate(String)
    }

    private let kind: Kind

    static func syntax(at offset: Int) -> JSONParseError { JSONParseError(kind: .syntax(at: offset)) }
    static let invalidUTF8 = JSONParseError(kind: .invalidUTF8)
    static let loneSurrogate = JSONParseError(kind: .loneSurrogate)
    static func tooDeep(limit: Int) -> JSONParseError { JSONParseError(kind: .tooDeep(limit: limit)) }
    static func duplicate(_ name: String) -> JSONParseError { JSONParseError(kind: .duplicate(name)) }

    /// The name given twice in one object, when that is the reason.
    public var duplicateName: String? {
        guard case .duplicate(let name) = self.kind else { return nil }
        return name
    }

    public var description: String {
        switch self.kind {
        case .syntax(let offset): return "not JSON at byte \(offset)"
        case .invalidUTF8: return "not UTF-8"
        case .loneSurrogate: return "a lone surrogate escape"
        case .tooDeep(let limit): return "nested more than \(limit) deep"
        case .duplicate: return "a member name given twice"
        }
    }
}
