import NIOCore
import RiverServer
import RiverTesting
import Testing

@testable import RiverServer

/// `POST /tokens/revoke` (an admin route): a token named by its `jti` is refused until its
/// `exp`, and every connection it opened ends, whatever the transport; nobody else's.
@Suite struct TokenRevocationTests {
    static let adminSecret = "revocation-admin-secret"
    static let tokens = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.adminSecret = Secret(Self.adminSecret)
        $0.privatePrefix = "private-"
    }

    /// A token for `private-room` (subscribe and publish) with `jti` and `exp`.
    static func token(jti: String, exp: Int = secondsSince1970() + 600) -> String {
        signedToken(#"{"exp": \#(exp), "channels": ["private-room"], "publish": true, "jti": "\#(jti)"}"#)
    }

    func revoke(
        _ river: TestRiver,
        body: String?,
        headers: [String] = ["Content-Type: application/json"]
    )
        async throws -> TestConnection.Response
    {
        try await river.request(
            "POST",
            "/tokens/revoke",
            headers: ["X-River-Secret: \(Self.adminSecret)"] + headers,
            body: body
        )
    }

    @Test func everyConnectionTheTokenOpenedEndsAndTheTokenIsRefusedAfter() async throws {
        try await withRiver(Self.tokens) { river in
            let exp = secondsSince1970() + 600
            let revoked = Self.token(jti: "t-1", exp: exp)
            let other = Self.token(jti: "t-2")
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=private-room&token=\(revoked)")
            #expect(try await stream.readHead().status == 200)
            let events = try await river.connect()
            try await events.sendRequest("GET", "/sse?name=private-room&token=\(revoked)")
            #expect(try await events.readHead().status == 200)
            let socket = try await river.webSocket("/websocket?name=private-room&hello=1&token=\(revoked)")
            #expect(try await socket.readText().hasPrefix(#"["live""#))
            let commands = try await CommandWebSocket(river)
            let subscribed = try await commands.command(
                #"["subscribe", {"id": 1, "channel": "private-room", "token": "\#(revoked)"}]"#
            )
            #expect(subscribed.hasPrefix(#"["ok", {"id": 1"#))
            let bystander = try await river.connect()
            try await bystander.sendRequest("GET", "/subscribe?name=private-room&token=\(other)")
            #expect(try await bystander.readHead().status == 200)

            let answer = try await self.revoke(river, body: #"{"jti": "t-1", "exp": \#(exp)}"#)
            #expect(answer.status == 200)
            #expect(answer.body == #"{"jti": "t-1", "exp": \#(exp), "connections": 4}"#)
            #expect(try await stream.waitForClose())
            #expect(try await events.waitForClose())
            #expect(try await socket.connection.waitForClose())
            #expect(try await commands.socket.connection.waitForClose())
            #expect(await bystander.isClosedByServer() == false, "another token's stream stays")
            // Each is a cut for the operator: counted, listed with the token's id.
            let cuts = try await CutsTests.cuts(river, headers: ["X-River-Secret: \(Self.adminSecret)"])
            #expect(cuts["revoked"] as? Int == 4)
            #expect(CutsTests.recent(cuts).filter { $0["detail"] as? String == "token t-1 revoked" }.count == 4)

            let publish = try await river.request("POST", "/publish?name=private-room&token=\(revoked)", body: "x")
            #expect(publish.status == 403)
            #expect(publish.body.contains("invalid token: revoked"))
            let subscribe = try await river.request("GET", "/subscribe?name=private-room&keep=0&token=\(revoked)")
            #expect(subscribe.status == 403)
            #expect(
                try await river.request("POST", "/publish?name=private-room&token=\(other)", body: "y").status == 200
            )

            let again = try await self.revoke(river, body: #"{"jti": "t-1", "exp": \#(exp)}"#)
            #expect(again.body == #"{"jti": "t-1", "exp": \#(exp), "connections": 0}"#)
        }
    }

    @Test func aRiverV2CommandWithARevokedTokenIsRefusedAndTheConnectionStays() async throws {
        try await withRiver(Self.tokens) { river in
            let revoked = Self.token(jti: "t-3")
            #expect(
                try await self.revoke(
                    river,
                    body: "jti=t-3&exp=\(secondsSince1970() + 600)",
                    headers: [
                        "Content-Type: application/x-www-form-urlencoded"
                    ]
                ).status == 200
            )
            let commands = try await CommandWebSocket(river)
            let refused = try await commands.command(
                #"["subscribe", {"id": 1, "channel": "private-room", "token": "\#(revoked)"}]"#
            )
            #expect(refused == #"["error", {"id": 1, "status": 403, "reason": "invalid token: revoked"}]"#)
            let open = try await commands.command(#"["subscribe", {"id": 2, "channel": "public"}]"#)
            #expect(open.hasPrefix(#"["ok", {"id": 2"#))
        }
    }

    /// A keep-alive publisher presenting a fresh token with every request is counted under its
    /// latest 64 only: revoking its first token no longer finds it, revoking its last does.
    @Test func aConnectionIsCountedUnderItsLatestTokensOnly() async throws {
        try await withRiver(Self.tokens) { river in
            let publisher = try await river.connect()
            let count = VerifiedConnections.tokensPerConnection + 2
            for index in 0..<count {
                try await publisher.sendRequest(
                    "POST",
                    "/publish?name=private-room&token=\(Self.token(jti: "p-\(index)"))",
                    headers: ["Content-Type: text/plain"],
                    body: "m\(index)"
                )
                #expect(try await publisher.readResponse().status == 200)
            }
            let exp = secondsSince1970() + 600
            let first = try await self.revoke(river, body: #"{"jti": "p-0", "exp": \#(exp)}"#)
            #expect(first.body.hasSuffix(#""connections": 0}"#), "forgotten: \(first.body)")
            #expect(await publisher.isClosedByServer() == false)
            let last = try await self.revoke(river, body: #"{"jti": "p-\#(count - 1)", "exp": \#(exp)}"#)
            #expect(last.body.hasSuffix(#""connections": 1}"#), "\(last.body)")
            #expect(try await publisher.waitForClose())
        }
    }

    @Test func idsAreMatchedByteForByte() async throws {
        try await withRiver(Self.tokens) { river in
            let composed = "caf\u{E9}"
            let decomposed = "cafe\u{301}"
            let exp = secondsSince1970() + 600
            let answer = try await self.revoke(river, body: #"{"jti": "\#(composed)", "exp": \#(exp)}"#)
            #expect(answer.status == 200)
            let other = Self.token(jti: decomposed)
            #expect(
                try await river.request("POST", "/publish?name=private-room&token=\(other)", body: "x").status == 200
            )
            let same = Self.token(jti: composed)
            #expect(
                try await river.request("POST", "/publish?name=private-room&token=\(same)", body: "x").status == 403
            )
        }
    }

    @Test(arguments: [
        (#"{"exp": 1767225600}"#, 400, "jti is required"),
        (#"{"jti": "t"}"#, 400, "exp is required"),
        (#"{"jti": 7, "exp": 1767225600}"#, 400, "jti is not a string"),
        (#"{"jti": "t", "exp": "soon"}"#, 400, "exp is not a number"),
        (#"{"jti": "t", "exp": 18446744073709551616}"#, 400, "exp is not a time"),
        (#"{"jti": "t", "exp": -1}"#, 400, "exp is not a time"),
        (#"{"jti": "t", "jti": "u", "exp": 1767225600}"#, 400, "not a JSON object"),
        (#"["t", 1767225600]"#, 400, "not a JSON object"),
        ("{", 400, "not a JSON object"),
    ])
    func aMalformedRevocationIs400WithItsReason(body: String, status: Int, reason: String) async throws {
        try await withRiver(Self.tokens) { river in
            let answer = try await self.revoke(river, body: body)
            #expect(answer.status == status)
            #expect(answer.body.contains(reason), "\(answer.body)")
        }
    }

    @Test func onlyTheAdminRevokesWithPostAndOnlyWhenTokensAreOn() async throws {
        try await withRiver(Self.tokens) { river in
            let body = #"{"jti": "t", "exp": \#(secondsSince1970() + 60)}"#
            #expect(try await river.request("POST", "/tokens/revoke", body: body).status == 401)
            let wrong = try await river.request("POST", "/tokens/revoke", headers: ["X-River-Secret: nope"], body: body)
            #expect(wrong.status == 403)
            let get = try await river.request(
                "GET",
                "/tokens/revoke?jti=t&exp=1",
                headers: ["X-River-Secret: \(Self.adminSecret)"]
            )
            #expect(get.status == 405)
            let query = try await river.request(
                "POST",
                "/tokens/revoke?jti=t&exp=\(secondsSince1970() + 60)",
                headers: ["X-River-Secret: \(Self.adminSecret)"]
            )
            #expect(query.status == 200)
        }
        try await withRiver(configured { $0.adminSecret = Secret(Self.adminSecret) }) { river in
            let answer = try await self.revoke(river, body: #"{"jti": "t", "exp": 1767225600}"#)
            #expect(answer.status == 400)
            #expect(answer.body.contains("tokens are not enabled"))
        }
    }

    @Test func aTokenWhoseJtiIsNotAStringIsInvalid() async throws {
        try await withRiver(Self.tokens) { river in
            let token = signedToken(#"{"exp": \#(secondsSince1970() + 600), "channels": ["private-room"], "jti": 7}"#)
            let answer = try await river.request("GET", "/subscribe?name=private-room&keep=0&token=\(token)")
            #expect(answer.status == 403)
            #expect(answer.body.contains("jti is not a non-empty string"))
        }
    }

    @Test func theListIsBoundedAndDropsWhatHasLapsed() {
        let list = RevokedTokens(capacity: 2)
        #expect(list.revoke("a", until: 100, now: 10))
        #expect(list.revoke("b", until: 200, now: 10))
        #expect(!list.revoke("c", until: 300, now: 10), "full of ids still in force")
        #expect(list.revoke("a", until: 50, now: 10), "the same id again: kept, not shortened")
        #expect(list.isRevoked("a", now: 100))
        #expect(list.revoke("c", until: 300, now: 150), "a has lapsed: its room is reused")
        #expect(!list.isRevoked("a", now: 150))
        #expect(list.isRevoked("c", now: 299))
        #expect(list.count == 2)
        #expect(list.revoke("d", until: 5, now: 10), "already lapsed: nothing to keep")
        #expect(!list.isRevoked("d", now: 10))
    }
}
