import Foundation
import JWTKit
import RiverTesting
import Testing

@testable import RiverServer

/// Publish secret, signed tokens, private channels and the admin listener.
/// In-process; token checks in order also run live, and the admin listener
/// (a second socket) and secrets from the environment (a process) only live.
@Suite struct AccessControlTests {
    static let secret = "publish-secret-0123456789"
    static let tokenKey = "token-secret-0123456789abcdef-0123456789"

    /// A token signed with `key`, expiring `expiresIn` seconds from now.
    func token(
        channels: [String]? = nil,
        prefix: String? = nil,
        publish: Bool? = nil,
        subscribe: Bool? = nil,
        expiresIn: TimeInterval = 600,
        key: String = tokenKey
    ) async throws -> String {
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: key), digestAlgorithm: .sha256)
        let claims = TokenClaims(
            expiresIn: expiresIn,
            channels: channels,
            prefix: prefix,
            publish: publish,
            subscribe: subscribe
        )
        return try await keys.sign(claims)
    }

    let secured = configured {
        $0.publishSecret = Secret(AccessControlTests.secret)
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.privatePrefix = "private-"
    }

    @Test func publishingNeedsTheSecret() async throws {
        try await withRiver(.inProcess, self.secured) { river in
            let missing = try await river.request("GET", "/publish?name=a&data=x")
            #expect(missing.status == 401)
            #expect(missing.body == "publishing needs the publish secret or a token\n")
            let wrong = try await river.request("GET", "/publish?name=a&data=x&secret=guess")
            #expect(wrong.status == 403)
            #expect(wrong.body == "wrong publish secret\n")

            let byHeader = try await river.request(
                "POST",
                "/publish?name=a",
                headers: ["X-River-Secret: \(Self.secret)", "Content-Type: text/plain"],
                body: "one"
            )
            #expect(byHeader.body == "{\"channel\": \"a\", \"seq\": 1}")
            let byQuery = try await river.request("GET", "/publish?name=a&data=two&secret=\(Self.secret)")
            #expect(byQuery.body == "{\"channel\": \"a\", \"seq\": 2}")
            let byForm = try await river.request(
                "POST",
                "/publish",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "name=a&data=three&secret=\(Self.secret)"
            )
            #expect(byForm.body == "{\"channel\": \"a\", \"seq\": 3}")
            // Refused publishes stored nothing.
            let history = try await river.request("GET", "/subscribe?name=a&seq=0&keep=0")
            #expect(history.body.components(separatedBy: "[\"msg\"").count - 1 == 3)
        }
    }

    @Test func tokensPublishOnlyWhereTheyAllow() async throws {
        let room = try await self.token(channels: ["room"], publish: true)
        let readOnly = try await self.token(channels: ["room"])
        let expired = try await self.token(channels: ["room"], publish: true, expiresIn: -60)
        let forged = try await self.token(
            channels: ["room"],
            publish: true,
            key: "another-key-0123456789abcdef-0123456789"
        )
        let team = try await self.token(prefix: "team-", publish: true)
        try await withRiver(.inProcess, self.secured) { river in
            func publish(_ channel: String, token: String) async throws -> TestConnection.Response {
                try await river.request(
                    "GET",
                    "/publish?name=\(channel)&data=x",
                    headers: ["Authorization: Bearer \(token)"]
                )
            }
            #expect(try await publish("room", token: room).status == 200)
            #expect(try await publish("team-7", token: team).status == 200)
            let elsewhere = try await publish("lobby", token: room)
            #expect(elsewhere.status == 403)
            #expect(elsewhere.body == "token does not allow publishing to lobby\n")
            #expect(try await publish("room", token: readOnly).body == "token does not allow publishing to room\n")
            let late = try await publish("room", token: expired)
            #expect(late.status == 403)
            #expect(late.body == "invalid token: expired\n")
            #expect(try await publish("room", token: forged).status == 403)
            #expect(try await publish("room", token: "not.a.token").status == 403)
            // As a parameter too.
            let byParameter = try await river.request("GET", "/publish?name=room&data=y&token=\(room)")
            #expect(byParameter.body == "{\"channel\": \"room\", \"seq\": 2}")
        }
    }

    /// Token checks finish off the event loop (live: on other threads too); the answers keep the requests' order.
    @Test(
        .disabled(
            if: TestRiver.bridgesHTTP2,
            "HTTP/2's streams are concurrent: requests have no order (RFC 9113 section 5)"
        ),
        arguments: TestRiver.Mode.allCases
    )
    func pipelinedRequestsWaitingForTokenChecksStayInOrder(_ mode: TestRiver.Mode) async throws {
        let token = try await self.token(prefix: "", publish: true)
        try await withRiver(mode, self.secured, threads: 2) { river in
            let connection = try await river.connect()
            var requests = ""
            for index in 1...20 {
                let credential = index % 2 == 0 ? "token=\(token)" : "secret=\(Self.secret)"
                requests += "GET /publish?name=order&data=\(index)&\(credential) HTTP/1.1\r\nHost: x\r\n\r\n"
            }
            requests += "GET /publish?name=order&data=no HTTP/1.1\r\nHost: x\r\n\r\n"
            try await connection.send(requests)
            for seq in 1...20 {
                #expect(try await connection.readResponse().body == "{\"channel\": \"order\", \"seq\": \(seq)}")
            }
            #expect(try await connection.readResponse().status == 401)
        }
    }

    @Test func privateChannelsNeedATokenCoveringThem() async throws {
        let member = try await self.token(channels: ["private-room"])
        let outsider = try await self.token(channels: ["private-other"])
        let writeOnly = try await self.token(channels: ["private-room"], publish: true, subscribe: false)
        try await withRiver(.inProcess, self.secured) { river in
            let anonymous = try await river.request("GET", "/subscribe?name=private-room&keep=0")
            #expect(anonymous.status == 401)
            #expect(anonymous.body == "channel private-room is private: a token is required\n")
            let other = try await river.request("GET", "/subscribe?name=private-room&token=\(outsider)")
            #expect(other.status == 403)
            #expect(other.body == "token does not allow subscribing to private-room\n")
            #expect(try await river.request("GET", "/sse?name=private-room&token=\(writeOnly)").status == 403)
            // Public channels need nothing.
            let open = try await river.connect()
            try await open.sendRequest("GET", "/subscribe?name=public")
            #expect(try await open.readHead().status == 200)

            // A token as a parameter (long-poll), a bearer header (stream) and a cookie (EventSource).
            let poll = try await river.connect()
            try await poll.sendRequest("GET", "/subscribe?name=private-room&keep=0&token=\(member)")
            let stream = try await river.connect()
            try await stream.sendRequest(
                "GET",
                "/subscribe?name=private-room",
                headers: ["Authorization: Bearer \(member)"]
            )
            #expect(try await stream.readHead().status == 200)
            let events = try await river.connect()
            try await events.sendRequest(
                "GET",
                "/sse?name=private-room",
                headers: ["Cookie: theme=dark; river_token=\(member)"]
            )
            #expect(try await events.readHead().status == 200)
            #expect(try await poll.readHead().status == 200, "the long-poll's head comes once it is subscribed")

            let published = try await river.request("GET", "/publish?name=private-room&data=hi&secret=\(Self.secret)")
            #expect(published.status == 200)
            #expect(try await poll.readChunk() == riverMessage("private-room", 1, "\"hi\""))
            #expect(try await poll.readChunk() == nil, "the long-poll's answer is complete")
            #expect(try await stream.readChunk() == riverMessage("private-room", 1, "\"hi\""))
            #expect(String(decoding: try await events.readSome(), as: UTF8.self).contains("id: 1\ndata: hi\n\n"))
        }
    }

    @Test func webSocketsSubscribeFreelyButPublishOnlyWithCredentials() async throws {
        let member = try await self.token(channels: ["private-ws"], publish: true)
        try await withRiver(.inProcess, self.secured) { river in
            let reader = try await river.webSocket("/websocket?name=ws")
            try await reader.send(text: "sneaky")
            let refused = try await reader.read()
            #expect(refused.closeCode == 1008)
            #expect(refused.text.hasSuffix("publishing needs the publish secret or a token"))

            let writer = try await river.webSocket("/websocket?name=ws&secret=\(Self.secret)")
            try await writer.send(text: "allowed")
            #expect(try await writer.readText() == riverMessage("ws", 1, "\"allowed\""))

            let wrong = try await river.connect()
            try await wrong.sendRequest(
                "GET",
                "/websocket?name=ws&secret=guess",
                headers: TestWebSocket.handshakeHeaders
            )
            #expect(try await wrong.readHead().status == 403)
            let anonymous = await #expect(throws: TestFailure.self) {
                try await river.webSocket("/websocket?name=private-ws")
            }
            #expect(anonymous?.description == "handshake answered 401")
            let privateSocket = try await river.webSocket("/websocket?name=private-ws&token=\(member)")
            try await privateSocket.send(text: "inside")
            #expect(try await privateSocket.readText() == riverMessage("private-ws", 1, "\"inside\""))
        }
    }

    @Test func adminRoutesNeedTheSecretButHealthDoesNot() async throws {
        try await withRiver(.inProcess, self.secured) { river in
            _ = try await river.request("GET", "/publish?name=kept&data=x&secret=\(Self.secret)")
            #expect(try await river.request("GET", "/channels/kept").status == 401)
            #expect(try await river.request("DELETE", "/channels/kept?secret=nope").status == 403)
            #expect(try await river.request("GET", "/channels?prefix=k").status == 401)
            #expect(try await river.request("GET", "/stats").status == 401)
            #expect(try await river.request("GET", "/metrics").status == 401)
            let listed = try await river.request(
                "GET",
                "/channels?prefix=k",
                headers: ["X-River-Secret: \(Self.secret)"]
            )
            #expect(listed.body.contains("\"kept\""))
            #expect(try await river.request("GET", "/stats?secret=\(Self.secret)").status == 200)
            #expect(try await river.request("DELETE", "/channels/kept?secret=\(Self.secret)").status == 200)
            #expect(try await river.request("GET", "/health").status == 200)
        }
    }

    /// Live: the admin listener is a second listening socket.
    @Test func adminRoutesMoveToTheAdminListener() async throws {
        try await withRiver(.live, configured { $0.adminPort = 0 }) { river in
            let adminPort = try #require(river.server.adminAddress?.port)
            #expect(adminPort != river.port)
            for path in ["/stats", "/metrics", "/channels", "/channels/x", "/dashboard", "/stats/stream"] {
                #expect(try await river.request("GET", path).status == 404)
            }
            #expect(try await river.request("GET", "/publish?name=x&data=1").status == 200)
            #expect(try await river.request("GET", "/health").status == 200)

            func admin(_ path: String) async throws -> TestConnection.Response {
                guard river.configuration.tlsCertificate != nil else {
                    return try await TestConnection.request(port: adminPort, "GET", path)
                }
                // (The admin listener speaks TLS too when River does: RIVER_TEST_TLS=1.)
                let (connection, _) = try await TestConnection.liveTLS(port: adminPort, client: river.tlsClient)
                try await connection.sendRequest("GET", path)
                let response = try await connection.readResponse()
                await connection.close()
                return response
            }
            #expect(try await admin("/stats").body.contains("\"connections\""))
            #expect(try await admin("/metrics").body.contains("river_messages_published_total"))
            #expect(try await admin("/channels/x").status == 200)
            #expect(try await admin("/health").status == 200)
            #expect(try await admin("/dashboard").body.contains("<title>River dashboard</title>"))
            #expect(try await admin("/publish?name=x&data=2").status == 404)
            #expect(try await admin("/subscribe?name=x").status == 404)
        }
    }

    @Test func secretsCanComeFromTheEnvironment() async throws {
        try await RiverProcess.with(["--threads", "1"], environment: ["RIVER_PUBLISH_SECRET": Self.secret]) { river in
            try await self.checkSecretFromTheEnvironment(river)
        }
    }

    func checkSecretFromTheEnvironment(_ river: RiverProcess) async throws {
        #expect(try await TestConnection.request(port: river.port, "GET", "/publish?name=e&data=x").status == 401)
        let withSecret = try await TestConnection.request(
            port: river.port,
            "GET",
            "/publish?name=e&data=x&secret=\(Self.secret)"
        )
        #expect(withSecret.status == 200)
        #expect(try await river.line(containing: "access control:").contains("publish_secret on"))
        #expect(!river.standardError.contains(Self.secret))
    }

    @Test func secretsMustBeLongEnough() {
        var configuration = RiverConfiguration()
        #expect(throws: ConfigurationError("this secret needs at least 16 bytes")) {
            try configuration.set("publish_secret", to: "short")
        }
        #expect(throws: ConfigurationError("this secret needs at least 32 bytes")) {
            try configuration.set("token_secret", to: String(repeating: "k", count: 31))
        }
    }
}
