import Foundation
import RiverTesting
import Testing

/// `POST /users/U/disconnect` on one node ends the user's connections on every node sharing
/// its Redis (PROTOCOL.md C4), and counts them all.
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
}
