import JWTKit
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

    func subscribe(_ river: TestRiver, token: String) async throws -> (status: Int, body: String) {
        try await subscribeAnswer(river, token: token)
    }

    static var now: Int { secondsSince1970() }

    @Test(arguments: [
        (#"{"channels": ["private-room"]}"#, "invalid token: exp is required"),
        (#"{"exp": "tomorrow", "channels": ["private-room"]}"#, "invalid token: exp is not a number"),
        (#"{"exp": 1e300, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": -5, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": 18446744073709551616, "channels": ["private-room"]}"#, "invalid token: exp is not a time"),
        (#"{"exp": \#(now - 120), "channels": ["private-room"]}"#, "invalid token: expired"),
        (
            #"{"exp": \#(now + 600), "nbf": \#(now + 300), "channels": ["private-room"]}"#,
            "invalid token: not valid yet (nbf)"
        ),
        (#"{"exp": \#(now + 600), "nbf": 1e300, "channels": ["private-room"]}"#, "invalid token: nbf is not a time"),
        (#"{"exp": \#(now + 600), "channels": "private-room"}"#, "invalid token: channels is not an array of strings"),
        ("not json", "invalid token: malformed claims: not JSON at byte 1"),
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

    /// `sub` and `info` (for presence) on the verified token; `info` as canonical JSON, with its size.
    @Test func subjectAndInfoAreKeptOnTheVerifiedToken() async throws {
        let verifier = try #require(
            try await TokenVerifier.make(secret: Secret(AccessControlTests.tokenKey), publicKey: nil, rules: .init())
        )
        let claims =
            #"{"exp": \#(Self.now + 600), "sub": "u1", "info": {"name": "Ada", "tags": ["x", "y"], "#
            + #""age": 36.5e0, "nested": {"b": null, "a": true}, "line": "a\u2028b\n"}}"#
        let verified = try verifier.verify(signedToken(claims), now: Int64(Self.now))
        #expect(verified.subject == "u1")
        let info = try #require(verified.info)
        let canonical =
            #"{"age":36.5e0,"line":"a\u2028b\n","name":"Ada","nested":{"a":true,"b":null},"tags":["x","y"]}"#
        #expect(String(decoding: info.json, as: UTF8.self) == canonical)
        #expect(info.byteCount == canonical.utf8.count)
        #expect(info.isWithinPresenceLimit)

        // The presence limit is 1024 bytes of canonical JSON: `{"p":""}` is 8.
        func paddedInfo(_ padding: Int) throws -> TokenInfo? {
            let text = String(repeating: "a", count: padding)
            let token = signedToken(#"{"exp": \#(Self.now + 600), "info": {"p":   "\#(text)"}}"#)
            return try verifier.verify(token, now: Int64(Self.now)).info
        }
        #expect(try paddedInfo(1016)?.byteCount == 1024)
        #expect(try paddedInfo(1016)?.isWithinPresenceLimit == true)
        #expect(try paddedInfo(1017)?.isWithinPresenceLimit == false)

        let bare = try verifier.verify(signedToken(#"{"exp": \#(Self.now + 600), "info": null}"#), now: Int64(Self.now))
        #expect(bare.subject == nil && bare.info == nil)

        // As an issuer's application would encode them (jwt-kit), through HTTP.
        let keys = await JWTKeyCollection().add(
            hmac: HMACKey(from: AccessControlTests.tokenKey),
            digestAlgorithm: .sha256
        )
        let issued = try await keys.sign(TokenClaims(channels: ["private-room"], sub: "u2", info: ["name": "Grace"]))
        let decoded = try verifier.verify(issued, now: Int64(Self.now))
        #expect(decoded.subject == "u2")
        #expect(decoded.info.map { String(decoding: $0.json, as: UTF8.self) } == #"{"name":"Grace"}"#)
        try await withRiver(
            .inProcess,
            configured {
                $0.tokenSecret = Secret(AccessControlTests.tokenKey)
                $0.privatePrefix = "private-"
            }
        ) { river in
            let answer = try await self.subscribe(river, token: issued)
            #expect(answer.status == 200)
        }
    }
}
