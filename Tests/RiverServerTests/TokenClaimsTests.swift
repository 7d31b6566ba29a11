import RiverTesting
import Testing

@testable import RiverServer

/// Token claims: `exp` required, `nbf`, `iss` and `aud` checked with a small
/// clock skew, and every refusal one short line. In-process; the clock skew
/// also runs live.
@Suite struct TokenClaimsTests {
    static let issuerAndAudience = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.privatePrefix = "private-"
        $0.tokenIssuer = "https://auth.example"
        $0.tokenAudience = "river"
    }

    /// The answer to subscribing to `private-room` with `token`: the status, and the body of a refusal.
    func subscribe(_ river: TestRiver, token: String) async throws -> (status: Int, body: String) {
        let connection = try await river.connect()
        try await connection.sendRequest("GET", "/subscribe?name=private-room&token=\(token)")
        let head = try await connection.readHead()
        var body = ""
        if head.status != 200 {
            let length = try #require(head.header("Content-Length").flatMap { Int($0) })
            body = String(decoding: try await connection.readBytes(length), as: UTF8.self)
        }
        await connection.close()
        return (head.status, body)
    }

    static var now: Int { secondsSince1970() }

    @Test(arguments: [
        (#"{"channels": ["private-room"]}"#, "invalid token: exp is required"),
        (#"{"exp": "tomorrow", "channels": ["private-room"]}"#, "invalid token: malformed"),
        (#"{"exp": 1e300, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": -5, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": 18446744073709551616, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": \#(now - 120), "channels": ["private-room"]}"#, "invalid token: expired"),
        (
            #"{"exp": \#(now + 600), "nbf": \#(now + 300), "channels": ["private-room"]}"#,
            "invalid token: not valid yet (nbf)"
        ),
        (#"{"exp": \#(now + 600), "nbf": 1e300, "channels": ["private-room"]}"#, "invalid token: nbf is not a time"),
        (#"{"exp": \#(now + 600), "channels": "private-room"}"#, "invalid token: malformed"),
        ("not json", "invalid token: malformed"),
    ])
    func refusedClaimsGiveOneShortReason(claims: String, reason: String) async throws {
        let secured = configured {
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
        }
        try await withRiver(.inProcess, secured) { river in
            let response = try await self.subscribe(river, token: signedToken(claims))
            #expect(response.status == 403)
            #expect(response.body == reason + "\n")
            #expect(response.body.utf8.count < 80)
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func theClockSkewIsTolerated(_ mode: TestRiver.Mode) async throws {
        let secured = configured {
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
        }
        try await withRiver(mode, secured) { river in
            // Expired 10 s ago, valid from 10 s ahead: both within 30 s of skew.
            let justExpired = signedToken(#"{"exp": \#(Self.now - 10), "channels": ["private-room"]}"#)
            #expect(try await self.subscribe(river, token: justExpired).status == 200)
            let almostValid = signedToken(
                #"{"exp": \#(Self.now + 600), "nbf": \#(Self.now + 10), "channels": ["private-room"]}"#
            )
            #expect(try await self.subscribe(river, token: almostValid).status == 200)
            let forged = signedToken(
                #"{"exp": \#(Self.now + 600), "channels": ["private-room"]}"#,
                key: "another-key-0123456789abcdef-0123456789"
            )
            let refused = try await self.subscribe(river, token: forged)
            #expect(refused.body == "invalid token: bad signature\n")
        }
    }

    @Test(arguments: [
        (#", "iss": "https://auth.example", "aud": "river""#, 200, ""),
        (#", "iss": "https://auth.example", "aud": ["other", "river"]"#, 200, ""),
        (#", "aud": "river""#, 403, "invalid token: wrong issuer (iss)\n"),
        (#", "iss": "https://evil.example", "aud": "river""#, 403, "invalid token: wrong issuer (iss)\n"),
        (#", "iss": "https://auth.example""#, 403, "invalid token: wrong audience (aud)\n"),
        (#", "iss": "https://auth.example", "aud": ["other"]"#, 403, "invalid token: wrong audience (aud)\n"),
    ])
    func issuerAndAudienceWhenConfigured(extra: String, status: Int, body: String) async throws {
        try await withRiver(.inProcess, Self.issuerAndAudience) { river in
            let response = try await self.subscribe(
                river,
                token: signedToken(channels: #"["private-room"]"#, extra: extra)
            )
            #expect(response.status == status)
            #expect(response.body == body)
        }
    }
}
