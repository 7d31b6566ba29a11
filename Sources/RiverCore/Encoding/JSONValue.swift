import NIOCore

/// A JSON value (RFC 8259, https://www.rfc-editor.org/rfc/rfc8259) as
/// `JSONParser` reads it: members in document order, names unique, numbers
/// kept as the text that was written (so nothing is rounded on the way
/// through), strings unescaped.
///
/// River reads untrusted JSON with it where the duplicates and the exact
/// text matter — token headers and claims — and writes it back in one
/// canonical form (`canonicalJSON`) where it is passed on.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's text, valid by RFC 8259 section 6.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order; `JSONParser` refuses a name given twice.
    case object([Member])

    /// One `"name": value` of an object.
    public struct Member: Sendable, Equatable {
        public var name: String
        public var value: JSONValue

        public init(_ name: String, _ value: JSONValue) {
            self.name = name
            self.value = value
        }
    }

    /// The member named `name` (compared by Unicode scalars, as RFC 8259
    /// section 8.3 compares names), if this is an object that has it.
    public subscript(name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.name.unicodeScalars.elementsEqual(name.unicodeScalars) }?.value
    }

    /// The value in one canonical form: no whitespace, object members sorted
    /// by the UTF-16 code units of their names (as RFC 8785 section 3.2.3
    /// sorts them, https://www.rfc-editor.org/rfc/rfc8785#section-3.2.3),
    /// strings escaped as `JSONString` writes every string River sends
    /// (U+2028 and U+2029 included, so the bytes are also safe in JSONP),
    /// numbers as written. Two objects with the same members in another
    /// order give the same bytes.
    public var canonicalJSON: [UInt8] {
        var buffer = ByteBuffer()
        self.writeCanonical(into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Writes `canonicalJSON` into `buffer`.
    public func writeCanonical(into buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.writeStaticString("null")
        case .bool(let value): buffer.writeStaticString(value ? "true" : "false")
        case .number(let text): buffer.writeString(text)
        case .string(let text): JSONString.write(text, into: &buffer)
        case .array(let elements):
            buffer.writeInteger(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                element.writeCanonical(into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let members):
            buffer.writeInteger(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.name.utf16.lexicographicallyPrecedes($1.name.utf16) }
            for (index, member) in sorted.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                JSONString.write(member.name, into: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                member.value.writeCanonical(into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }
}
