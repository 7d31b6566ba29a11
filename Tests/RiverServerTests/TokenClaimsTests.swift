import RiverTesting
import Testing

@testable import RiverServer

/// Token claims over real sockets: `exp` required, `nbf`, `iss` and `aud`
/// checked with a small clock skew, and every refusal one short line.
@Suite struct TokenClaimsTests {
    static let issuerAndAudience = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.privatePrefix = "private-"
        $0.tokenIssuer = "https://auth.example"
        $0.tokenAudience = "river"
    }

    /// The answer to subscribing to `private-room` with `token`.
    func subscribe(_ port: Int, token: String) throws -> SocketConnection.Response {
        let connection = try SocketConnection(port: port)
        defer { connection.close() }
        try connection.sendRequest("GET", "/subscribe?name=private-room&token=\(token)")
        let head = try connection.readHead()
        return SocketConnection.Response(
            head: head,
            body: head.status == 200 ? "" : try connection.readResponseBody(head)
        )
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
        try await withServer(secured) { server in
            let response = try self.subscribe(server.port, token: signedToken(claims))
            #expect(response.status == 403)
            #expect(response.body == reason + "\n")
            #expect(response.body.utf8.count < 80)
        }
    }

    @Test func theClockSkewIsTolerated() async throws {
        let secured = configured {
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
        }
        try await withServer(secured) { server in
            // Expired 10 s ago, valid from 10 s ahead: both within 30 s of skew.
            let justExpired = signedToken(#"{"exp": \#(Self.now - 10), "channels": ["private-room"]}"#)
            #expect(try self.subscribe(server.port, token: justExpired).status == 200)
            let almostValid = signedToken(
                #"{"exp": \#(Self.now + 600), "nbf": \#(Self.now + 10), "channels": ["private-room"]}"#
            )
            #expect(try self.subscribe(server.port, token: almostValid).status == 200)
            let forged = signedToken(
                #"{"exp": \#(Self.now + 600), "channels": ["private-room"]}"#,
                key: "another-key-0123456789abcdef-0123456789"
            )
            let refused = try self.subscribe(server.port, token: forged)
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
        try await withServer(Self.issuerAndAudience) { server in
            let response = try self.subscribe(
                server.port,
                token: signedToken(channels: #"["private-room"]"#, extra: extra)
            )
            #expect(response.status == status)
            #expect(response.body == body)
        }
    }
}

extension SocketConnection {
    /// The body of a response whose head was already read (Content-Length framing).
    func readResponseBody(_ head: ResponseHead) throws -> String {
        let length = head.header("Content-Length").flatMap { Int($0) } ?? 0
        return String(decoding: try self.readExactlyForTests(length), as: UTF8.self)
    }
}
