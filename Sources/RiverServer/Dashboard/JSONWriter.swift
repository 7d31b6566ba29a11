import NIOCore
import RiverCore

/// Writes a JSON document field by field, commas included: the dashboard's
/// samples, whose shape is too wide for hand-placed separators.
struct JSONWriter {
    private(set) var buffer = ByteBuffer()
    /// Whether the innermost open object or array has a member yet.
    private var hasMember: [Bool] = []

    mutating func open() {
        self.separate()
        self.buffer.writeStaticString("{")
        self.hasMember.append(false)
    }

    mutating func close() {
        self.buffer.writeStaticString("}")
        self.hasMember.removeLast()
    }

    mutating func field(_ name: StaticString, _ value: Int?) {
        self.key(name)
        self.write(value)
    }

    /// A number with at most one decimal (`12.5`, `3`).
    mutating func field(_ name: StaticString, _ value: Double) {
        self.key(name)
        let tenths = Int((max(value, 0) * 10).rounded())
        self.buffer.writeDecimal(UInt64(tenths / 10))
        if tenths % 10 != 0 {
            self.buffer.writeStaticString(".")
            self.buffer.writeDecimal(UInt64(tenths % 10))
        }
    }

    mutating func field(_ name: StaticString, _ value: String) {
        self.key(name)
        JSONString.write(value, into: &self.buffer)
    }

    mutating func object(_ name: StaticString, _ body: (inout JSONWriter) -> Void) {
        self.key(name)
        self.buffer.writeStaticString("{")
        self.hasMember.append(false)
        body(&self)
        self.close()
    }

    mutating func array<Element>(
        _ name: StaticString,
        _ elements: [Element],
        _ body: (inout JSONWriter, Element) -> Void
    ) {
        self.key(name)
        self.buffer.writeStaticString("[")
        self.hasMember.append(false)
        for element in elements { body(&self, element) }
        self.buffer.writeStaticString("]")
        self.hasMember.removeLast()
    }

    /// An array element.
    /// An element that is already JSON (canonical: checked by whoever hands it over).
    mutating func raw(_ json: [UInt8]) {
        self.separate()
        self.buffer.writeBytes(json)
    }

    mutating func value(_ value: Int?) {
        self.separate()
        self.write(value)
    }

    private mutating func write(_ value: Int?) {
        guard let value else {
            self.buffer.writeStaticString("null")
            return
        }
        if value < 0 { self.buffer.writeStaticString("-") }
        self.buffer.writeDecimal(UInt64(value.magnitude))
    }

    private mutating func key(_ name: StaticString) {
        self.separate()
        self.buffer.writeStaticString("\"")
        self.buffer.writeStaticString(name)
        self.buffer.writeStaticString("\": ")
    }

    private mutating func separate() {
        guard let last = self.hasMember.indices.last else { return }
        if self.hasMember[last] { self.buffer.writeStaticString(", ") }
        self.hasMember[last] = true
    }
}
