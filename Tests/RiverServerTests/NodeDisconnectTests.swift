import Foundation
import RiverTesting
import Testing

/// `POST /users/U/disconnect` and `POST /tokens/revoke` on one node end the connections of
/// the user or token on every node sharing its Redis (PROTOCOL.md C4), and count them all; a
/// node started after a revocation refuses the token too.
@Suite struct NodeDisconnectTests: RiverNodeTesting {
    func node(_ redis: RedisServerProcess, threads: Int = 1) async throws -> RiverProcess {
        try await RiverProcess.start(
            [
                "--engine", "redis", "--redis", redis.url, "--threads", String(threads),
                "--token-secret", AccessControlTests.tokenKey, "--admin-secret", Self.adminSecret,
            ]
        )
    }

    static let adminSecret = "node-disconnect-admin-secret"

    /// `POST /users/U/disconnect` on `node`, as the admin.
    func disconnect(_ user: String, on node: RiverProcess) async throws -> TestConnection.Response {
        try await TestConnection.request(
            port: node.port,
            "POST",
            "/users/\(user)/disconnect",
            headers: ["X-River-Secret: \(Self.adminSecret)"]
        )
    }

    func token(_ user: String) -> String {
        signedToken(channels: #"["room"]"#, extra: #", "sub": "\#(user)""#)
    }

    @Test func aUserIsEndedOnEveryNodeAndEveryConnectionCounted() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b, c) = (
            try await self.node(redis), try await self.node(redis, threads: 2), try await self.node(redis)
        )
        try await self.stopping(a, b, c) {
            let adaOnB = try await self.stream(b, "name=room&token=\(self.token("ada"))")
            let adaAgainOnB = try await self.stream(b, "name=room&token=\(self.token("ada"))")
            let adaOnC = try await TestWebSocket(
                on: try await .live(port: c.port),
                path: "/websocket?name=room&hello=1&token=\(self.token("ada"))"
            )
            #expect(try await adaOnC.readText().hasPrefix(#"["live""#))
            let bobOnB = try await self.stream(b, "name=room&token=\(self.token("bob"))")

            let answer = try await self.disconnect("ada", on: a)
            #expect(answer.status == 200)
            #expect(answer.body == #"{"user": "ada", "connections": 3}"#, "two on node b, one on node c")
            #expect(try await adaOnB.waitForClose())
            #expect(try await adaAgainOnB.waitForClose())
            #expect(try await adaOnC.connection.waitForClose())
            #expect(try await bobOnB.unreadBytesNow() == [], "bob stays")

            let again = try await self.disconnect("ada", on: c)
            #expect(again.body == #"{"user": "ada", "connections": 0}"#)
            let bob = try await self.disconnect("bob", on: c)
            #expect(bob.body == #"{"user": "bob", "connections": 1}"#, "on node b, asked on node c")
            #expect(try await bobOnB.waitForClose())
        }
    }

    @Test func aTokenRevokedOnOneNodeEndsOnEveryNodeAndANodeStartedLaterRefusesIt() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b) = (try await self.node(redis), try await self.node(redis, threads: 2))
        let exp = secondsSince1970() + 600
        let token = signedToken(#"{"exp": \#(exp), "channels": ["room"], "publish": true, "jti": "t-9"}"#)
        let other = signedToken(#"{"exp": \#(exp), "channels": ["room"], "jti": "t-10"}"#)
        try await self.stopping(a, b) {
            let onB = try await self.stream(b, "name=room&token=\(token)")
            let otherOnB = try await self.stream(b, "name=room&token=\(other)")
            let answer = try await TestConnection.request(
                port: a.port,
                "POST",
                "/tokens/revoke",
                headers: ["X-River-Secret: \(Self.adminSecret)", "Content-Type: application/json"],
                body: #"{"jti": "t-9", "exp": \#(exp)}"#
            )
            #expect(answer.status == 200)
            #expect(answer.body == #"{"jti": "t-9", "exp": \#(exp), "connections": 1}"#, "the stream on node b")
            #expect(try await onB.waitForClose())
            #expect(try await otherOnB.unreadBytesNow() == [], "another token's stream stays")
            let refusedOnB = try await TestConnection.request(
                port: b.port,
                "GET",
                "/subscribe?name=room&keep=0&token=\(token)"
            )
            #expect(refusedOnB.status == 403)

            let c = try await self.node(redis)
            try await self.stopping(c) {
                try await eventually("node c has read the revocations from Redis") {
                    // (A publish answers at once whether the token is refused or not.)
                    let answer = try await TestConnection.request(
                        port: c.port,
                        "POST",
                        "/publish?name=room&token=\(token)",
                        body: "x"
                    )
                    return answer.status == 403 && answer.body.contains("invalid token: revoked")
                }
                let allowed = try await self.stream(c, "name=room&token=\(other)")
                await allowed.close()
            }
        }
    }
}
