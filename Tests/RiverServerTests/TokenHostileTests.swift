import RiverTesting
import Testing

@testable import RiverServer

/// Tokens no honest issuer mints, correctly signed or not: claims given
/// twice (at the top and nested), numbers past 2^64, 100 KB, nesting past
/// any stack, bytes that are not UTF-8, base64url spelled two ways. Each
/// is a 403 (or the parser's own status) with one line; none crashes.
@Suite struct TokenHostileTests {
    static let secured = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.privatePrefix = "private-"
        $0.publishSecret = Secret(AccessControlTests.secret)
    }

    static var exp: Int { secondsSince1970() + 600 }

    @Test(arguments: [
        // RFC 7519 section 4: a claim given twice is refused, whichever copy a decoder would keep.
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "publish": true, "publish": false}"#,
            "invalid token: duplicate member in claims (publish)"
        ),
        (
            #"{"exp": \#(exp), "channels": ["private-other"], "ch\u0061nnels": ["private-room"]}"#,
            "invalid token: duplicate member in claims (channels)"
        ),
        (
            #"{"exp": 1, "channels": ["private-room"], "exp": \#(exp)}"#,
            "invalid token: duplicate member in claims (exp)"
        ),
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "info": {"name": "a", "name": "b"}}"#,
            "invalid token: duplicate member in claims (name)"
        ),
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "x": [{"k": {"deep": 1, "deep": 2}}]}"#,
            "invalid token: duplicate member in claims (deep)"
        ),
        // Canonically equivalent names conflate in a Swift dictionary: duplicates too (not quoted: not ASCII).
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "info": {"\u00e9": 1, "e\u0301": 2}}"#,
            "invalid token: duplicate member in claims"
        ),
        // Numbers past 2^64, or past any Double.
        (#"{"exp": 18446744073709551616, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": 1.8446744073709552E19, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": 9223372036854775808, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": -18446744073709551616, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": 1e999, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (
            #"{"exp": \#(exp), "nbf": 18446744073709551616, "channels": ["private-room"]}"#,
            "invalid token: nbf is not a time"
        ),
        (#"{"exp": 0x10, "channels": ["private-room"]}"#, "invalid token: malformed claims: not JSON at byte 9"),
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "sub": "\ud800"}"#,
            "invalid token: malformed claims: a lone surrogate escape"
        ),
        ("\u{FEFF}{\"exp\": \(exp)}", "invalid token: malformed claims: not JSON at byte 0"),
        (#"[\#(exp)]"#, "invalid token: the claims are not a JSON object"),
        (#"{"exp": \#(exp), "channels": ["private-room"], "sub": 42}"#, "invalid token: sub is not a non-empty string"),
        (#"{"exp": \#(exp), "channels": ["private-room"], "sub": ""}"#, "invalid token: sub is not a non-empty string"),
        (#"{"exp": \#(exp), "channels": ["private-room"], "info": [1]}"#, "invalid token: info is not a JSON object"),
        (#"{"exp": \#(exp), "channels": ["private-room"], "info": "Ada"}"#, "invalid token: info is not a JSON object"),
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "publish": 1}"#,
            "invalid token: publish is not true or false"
        ),
        (
            #"{"exp": \#(exp), "channels": ["private-room"], "aud": [1]}"#,
            "invalid token: aud is not a string or an array of strings"
        ),
    ])
    func hostileClaimsAreRefusedWithOneLine(claims: String, reason: String) async throws {
        try await withRiver(.inProcess, Self.secured) { river in
            let answer = try await subscribeAnswer(river, token: signedToken(claims))
            #expect(answer.status == 403)
            #expect(answer.body == reason + "\n")
        }
    }

    /// 2,500 deep, as deep as a query string allows (`JSONParserTests` goes to a million).
    @Test func nestingPastAnyStackIsRefused() async throws {
        let depth = 2500
        let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        try await withRiver(.inProcess, Self.secured) { river in
            let token = signedToken(#"{"exp": \#(Self.exp), "channels": ["private-room"], "x": \#(deep)}"#)
            let answer = try await subscribeAnswer(river, token: token)
            #expect(answer.body == "invalid token: malformed claims: nested more than 16 deep\n")
            let fine = String(repeating: "[", count: 15) + String(repeating: "]", count: 15)
            let shallow = signedToken(#"{"exp": \#(Self.exp), "channels": ["private-room"], "x": \#(fine)}"#)
            #expect(try await subscribeAnswer(river, token: shallow).status == 200)
        }
    }

    @Test func claimsThatAreNotUTF8AreRefused() async throws {
        let claims =
            Array(#"{"exp": \#(Self.exp), "channels": ["private-room"], "sub": ""#.utf8) + [0xC0, 0xAF]
            + Array(#""}"#.utf8)
        try await withRiver(.inProcess, Self.secured) { river in
            let answer = try await subscribeAnswer(river, token: signedToken(claimBytes: claims))
            #expect(answer.body == "invalid token: malformed claims: not UTF-8\n")
        }
    }

    /// 100 KB of token in a form body (the request line and headers stop it sooner: 414, 431).
    @Test func aHundredKilobyteTokenIsRefusedUnread() async throws {
        let padding = String(repeating: "a", count: 100_000)
        let huge = signedToken(#"{"exp": \#(Self.exp), "channels": ["room"], "publish": true, "pad": "\#(padding)"}"#)
        #expect(huge.utf8.count > 100_000)
        try await withRiver(.inProcess, Self.secured) { river in
            let answer = try await river.request(
                "POST",
                "/publish",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "name=room&data=x&token=\(huge)"
            )
            #expect(answer.status == 403)
            #expect(answer.body == "invalid token: larger than 16384 bytes\n")
            let inTheQuery = try await river.request("GET", "/subscribe?name=private-room&token=\(huge)")
            #expect(inTheQuery.status == 414)
            #expect(try await river.request("GET", "/health").status == 200)
        }
    }

    @Test func theCompactSerializationIsStrict() async throws {
        let good = signedToken(#"{"exp": \#(Self.exp), "channels": ["private-room"]}"#)
        let parts = good.split(separator: ".").map(String.init)
        // The signature's last character (32 bytes in 43 characters) carries 2 unused bits: set one.
        let last = try #require(parts[2].last)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let index = try #require(alphabet.firstIndex(of: last))
        let nonCanonical = parts[0] + "." + parts[1] + "." + parts[2].dropLast() + String(alphabet[index | 1])
        #expect(index | 1 != index, "the test needs a signature whose last character has a zero low bit")
        let cases: [(String, String)] = [
            (good, ""),
            (nonCanonical, "invalid token: signature is not base64url"),
            (good + "=", "invalid token: signature is not base64url"),
            (parts[0] + "=." + parts[1] + "." + parts[2], "invalid token: header is not base64url"),
            (signedSegments(parts[0], parts[1] + "+"), "invalid token: claims are not base64url"),
            (parts[0] + "." + parts[1] + "+." + parts[2], "invalid token: bad signature"),
            (parts[0] + "." + parts[1], "invalid token: malformed"),
            (good + ".", "invalid token: malformed"),
            (good + ".x.y", "invalid token: encrypted tokens (JWE) are not supported"),
            ("..", "invalid token: malformed header: not JSON at byte 0"),
        ]
        try await withRiver(.inProcess, Self.secured) { river in
            for (token, reason) in cases {
                let answer = try await subscribeAnswer(river, token: percentEncoded(token))
                #expect(answer.status == (reason.isEmpty ? 200 : 403), "\(token)")
                #expect(answer.body == (reason.isEmpty ? "" : reason + "\n"))
            }
        }
    }

    @Test func base64URLIsDecodedStrictly() {
        #expect(Base64URL.decode("".utf8[...]) == [])
        #expect(Base64URL.decode("QQ".utf8[...]) == [0x41])
        #expect(Base64URL.decode("QR".utf8[...]) == nil)
        #expect(Base64URL.decode("QUI".utf8[...]) == [0x41, 0x42])
        #expect(Base64URL.decode("QUJD".utf8[...]) == [0x41, 0x42, 0x43])
        #expect(Base64URL.decode("Q".utf8[...]) == nil)
        #expect(Base64URL.decode("QQ==".utf8[...]) == nil)
        #expect(Base64URL.decode("-_8".utf8[...]) == [0xFB, 0xFF])
        #expect(Base64URL.decode("+/8".utf8[...]) == nil)
        #expect(Base64URL.decode("QU JD".utf8[...]) == nil)
    }
}
