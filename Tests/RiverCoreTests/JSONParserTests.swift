import Testing

@testable import RiverCore

/// The strict JSON parser tokens are read with: RFC 8259's grammar, no name
/// twice at any depth, UTF-8 only, bounded nesting; and the canonical form.
@Suite struct JSONParserTests {
    func parse(_ text: String, maxDepth: Int = 32) throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8), maxDepth: maxDepth)
    }

    func refusal(_ text: String, maxDepth: Int = 32) -> String? {
        do {
            _ = try self.parse(text, maxDepth: maxDepth)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func valuesAreReadExactly() throws {
        let value = try self.parse(
            #" {"a": [1, -0.5e+3, true, false, null], "b": {"c": "d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude80"}} "#
        )
        #expect(
            value
                == .object([
                    JSONValue.Member(
                        "a",
                        .array([.number("1"), .number("-0.5e+3"), .bool(true), .bool(false), .null])
                    ),
                    JSONValue.Member("b", .object([JSONValue.Member("c", .string("d\"\\/\u{8}\u{C}\n\r\té🚀"))])),
                ])
        )
        #expect(value["a"] == .array([.number("1"), .number("-0.5e+3"), .bool(true), .bool(false), .null]))
        #expect(value["z"] == nil)
        #expect(try self.parse("18446744073709551616") == .number("18446744073709551616"))
        #expect(try self.parse(#""""#) == .string(""))
        #expect(try self.parse("[]") == .array([]))
        #expect(try self.parse("{}") == .object([]))
    }

    @Test(arguments: [
        (#"{"a": 1, "a": 2}"#, "a"),
        (#"{"a": 1, "\u0061": 2}"#, "a"),
        (#"{"x": {"y": [{"a": 1, "b": 2, "a": 3}]}}"#, "a"),
        (#"{"\u00e9": 1, "e\u0301": 2}"#, "e\u{301}"),
        (#"{"": 1, "": 2}"#, ""),
    ])
    func aNameGivenTwiceIsRefusedAtAnyDepth(text: String, name: String) {
        do {
            _ = try self.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.duplicateName == name)
            #expect(error.description == "a member name given twice")
        }
    }

    @Test(arguments: [
        ("", "not JSON at byte 0"),
        ("{", "not JSON at byte 1"),
        (#"{"a" 1}"#, "not JSON at byte 5"),
        (#"{"a": 1,}"#, "not JSON at byte 8"),
        ("[1,]", "not JSON at byte 3"),
        ("[1 2]", "not JSON at byte 3"),
        ("01", "not JSON at byte 1"),
        ("1.", "not JSON at byte 2"),
        (".5", "not JSON at byte 0"),
        ("1e", "not JSON at byte 2"),
        ("+1", "not JSON at byte 0"),
        ("-", "not JSON at byte 1"),
        ("NaN", "not JSON at byte 0"),
        ("tru", "not JSON at byte 0"),
        ("nul", "not JSON at byte 0"),
        ("truex", "not JSON at byte 4"),
        (#""a"#, "not JSON at byte 2"),
        ("\"a\u{1}\"", "not JSON at byte 2"),
        (#""\x""#, "not JSON at byte 1"),
        (#""\u12G4""#, "not JSON at byte 5"),
        ("'a'", "not JSON at byte 0"),
        ("{a: 1}", "not JSON at byte 1"),
        ("\u{FEFF}{}", "not JSON at byte 0"),
        ("{}\u{0B}", "not JSON at byte 2"),
        ("{} {}", "not JSON at byte 3"),
        (#""\ud800""#, "a lone surrogate escape"),
        (#""\udc00""#, "a lone surrogate escape"),
        (#""\ud800\u0041""#, "a lone surrogate escape"),
        (#""\ud800x""#, "a lone surrogate escape"),
    ])
    func everythingElseIsRefused(text: String, reason: String) {
        #expect(self.refusal(text) == reason)
    }

    @Test func onlyUTF8IsRead() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(throws: JSONParseError.invalidUTF8) { try JSONParser.parse(bytes) }
        }
    }

    @Test func nestingIsBounded() {
        #expect(self.refusal(String(repeating: "[", count: 3) + String(repeating: "]", count: 3), maxDepth: 3) == nil)
        #expect(
            self.refusal(String(repeating: "[", count: 4) + String(repeating: "]", count: 4), maxDepth: 3)
                == "nested more than 3 deep"
        )
        #expect(self.refusal(#"{"a":{"b":{"c":{}}}}"#, maxDepth: 3) == "nested more than 3 deep")
        // Far past any stack: refused at the limit, never recursed into.
        #expect(self.refusal(String(repeating: "[", count: 1_000_000)) == "nested more than 32 deep")
        #expect(self.refusal(String(repeating: #"{"a":"#, count: 100_000)) == "nested more than 32 deep")
    }

    @Test func theCanonicalFormSortsNamesAndDropsWhitespace() throws {
        let value = try self.parse(
            #" { "b" : [ 1 , 2.50 ] , "a" : { "z" : null , "\u00e9" : "\u2028\n\"" } , "A" : true } "#
        )
        #expect(
            String(decoding: value.canonicalJSON, as: UTF8.self)
                == #"{"A":true,"a":{"z":null,"é":"\u2028\n\""},"b":[1,2.50]}"#
        )
        // Sorted by UTF-16 code units (RFC 8785): U+1F600 (D83D DE00) before U+FF5E, unlike by scalars.
        let utf16 = try self.parse(#"{"～": 2, "😀": 1}"#)
        #expect(String(decoding: utf16.canonicalJSON, as: UTF8.self) == #"{"😀":1,"～":2}"#)
        // The canonical form reads back as the same value.
        #expect(
            try JSONParser.parse(value.canonicalJSON)
                == .object([
                    JSONValue.Member("A", .bool(true)),
                    JSONValue.Member(
                        "a",
                        .object([JSONValue.Member("z", .null), JSONValue.Member("é", .string("\u{2028}\n\""))])
                    ),
                    JSONValue.Member("b", .array([.number("1"), .number("2.50")])),
                ])
        )
    }
}
