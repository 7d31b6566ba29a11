import Foundation
import JWTKit
import RiverTesting
import Testing

@testable import RiverServer

/// Publish secret, signed tokens, private channels and the admin listener.
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
        let claims = AccessToken(
            exp: Date().timeIntervalSince1970 + expiresIn,
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
        try await withServer(self.secured) { server in
            let missing = try httpRequest(port: server.port, "GET", "/publish?name=a&data=x")
            #expect(missing.status == 401)
            #expect(missing.body == "publishing needs the publish secret or a token\n")
            let wrong = try httpRequest(port: server.port, "GET", "/publish?name=a&data=x&secret=guess")
            #expect(wrong.status == 403)
            #expect(wrong.body == "wrong publish secret\n")

            let byHeader = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=a",
                headers: ["X-River-Secret: \(Self.secret)", "Content-Type: text/plain"],
                body: "one"
            )
            #expect(byHeader.body == "{\"channel\": \"a\", \"seq\": 1}")
            let byQuery = try httpRequest(port: server.port, "GET", "/publish?name=a&data=two&secret=\(Self.secret)")
            #expect(byQuery.body == "{\"channel\": \"a\", \"seq\": 2}")
            let byForm = try httpRequest(
                port: server.port,
                "POST",
                "/publish",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "name=a&data=three&secret=\(Self.secret)"
            )
            #expect(byForm.body == "{\"channel\": \"a\", \"seq\": 3}")
            // Refused publishes stored nothing.
            let history = try httpRequest(port: server.port, "GET", "/subscribe?name=a&seq=0&keep=0")
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
        try await withServer(self.secured) { server in
            func publish(_ channel: String, token: String) throws -> SocketConnection.Response {
                try httpRequest(
                    port: server.port,
                    "GET",
                    "/publish?name=\(channel)&data=x",
                    headers: ["Authorization: Bearer \(token)"]
                )
            }
            #expect(try publish("room", token: room).status == 200)
            #expect(try publish("team-7", token: team).status == 200)
            let elsewhere = try publish("lobby", token: room)
            #expect(elsewhere.status == 403)
            #expect(elsewhere.body == "token does not allow publishing to lobby\n")
            #expect(try publish("room", token: readOnly).body == "token does not allow publishing to room\n")
            let late = try publish("room", token: expired)
            #expect(late.status == 403)
            #expect(late.body == "invalid token: expired\n")
            #expect(try publish("room", token: forged).status == 403)
            #expect(try publish("room", token: "not.a.token").status == 403)
            // As a parameter too.
            let byParameter = try httpRequest(port: server.port, "GET", "/publish?name=room&data=y&token=\(room)")
            #expect(byParameter.body == "{\"channel\": \"room\", \"seq\": 2}")
        }
    }

    @Test func pipelinedRequestsWaitingForTokenChecksStayInOrder() async throws {
        let token = try await self.token(prefix: "", publish: true)
        try await withServer(self.secured) { server in
            let connection = try server.connect()
            var requests = ""
            for index in 1...20 {
                let credential = index % 2 == 0 ? "token=\(token)" : "secret=\(Self.secret)"
                requests += "GET /publish?name=order&data=\(index)&\(credential) HTTP/1.1\r\nHost: x\r\n\r\n"
            }
            requests += "GET /publish?name=order&data=no HTTP/1.1\r\nHost: x\r\n\r\n"
            try connection.send(requests)
            for seq in 1...20 {
                #expect(try connection.readResponse().body == "{\"channel\": \"order\", \"seq\": \(seq)}")
            }
            #expect(try connection.readResponse().status == 401)
        }
    }

    @Test func privateChannelsNeedATokenCoveringThem() async throws {
        let member = try await self.token(channels: ["private-room"])
        let outsider = try await self.token(channels: ["private-other"])
        let writeOnly = try await self.token(channels: ["private-room"], publish: true, subscribe: false)
        try await withServer(self.secured) { server in
            let anonymous = try httpRequest(port: server.port, "GET", "/subscribe?name=private-room&keep=0")
            #expect(anonymous.status == 401)
            #expect(anonymous.body == "channel private-room is private: a token is required\n")
            let other = try httpRequest(port: server.port, "GET", "/subscribe?name=private-room&token=\(outsider)")
            #expect(other.status == 403)
            #expect(other.body == "token does not allow subscribing to private-room\n")
            #expect(
                try httpRequest(port: server.port, "GET", "/sse?name=private-room&token=\(writeOnly)").status == 403
            )
            // Public channels need nothing.
            let open = try server.connect()
            try open.sendRequest("GET", "/subscribe?name=public")
            #expect(try open.readHead().status == 200)

            // A token as a parameter (long-poll), a bearer header (stream) and a cookie (EventSource).
            let poll = try server.connect()
            try poll.sendRequest("GET", "/subscribe?name=private-room&keep=0&token=\(member)")
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=private-room", headers: ["Authorization: Bearer \(member)"])
            #expect(try stream.readHead().status == 200)
            let events = try server.connect()
            try events.sendRequest(
                "GET",
                "/sse?name=private-room",
                headers: ["Cookie: theme=dark; river_token=\(member)"]
            )
            #expect(try events.readHead().status == 200)
            #expect(try poll.readHead().status == 200, "the long-poll's head comes once it is subscribed")

            let published = try httpRequest(
                port: server.port,
                "GET",
                "/publish?name=private-room&data=hi&secret=\(Self.secret)"
            )
            #expect(published.status == 200)
            #expect(try poll.readChunk() == riverMessage("private-room", 1, "\"hi\""))
            #expect(try poll.readChunk() == nil, "the long-poll's answer is complete")
            #expect(try stream.readChunk() == riverMessage("private-room", 1, "\"hi\""))
            #expect(String(decoding: try events.readSome(), as: UTF8.self).contains("id: 1\ndata: hi\n\n"))
        }
    }

    @Test func webSocketsSubscribeFreelyButPublishOnlyWithCredentials() async throws {
        let member = try await self.token(channels: ["private-ws"], publish: true)
        try await withServer(self.secured) { server in
            let reader = try SocketWebSocket(port: server.port, path: "/websocket?name=ws")
            try reader.send(text: "sneaky")
            let refused = try reader.read()
            #expect(refused.closeCode == 1008)
            #expect(refused.text.hasSuffix("publishing needs the publish secret or a token"))

            let writer = try SocketWebSocket(port: server.port, path: "/websocket?name=ws&secret=\(Self.secret)")
            try writer.send(text: "allowed")
            #expect(try writer.readText() == riverMessage("ws", 1, "\"allowed\""))

            let wrong = try server.connect()
            try wrong.sendRequest(
                "GET",
                "/websocket?name=ws&secret=guess",
                headers: [
                    "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                ]
            )
            #expect(try wrong.readHead().status == 403)
            #expect(throws: SocketConnection.Failure.self) {
                try SocketWebSocket(port: server.port, path: "/websocket?name=private-ws")
            }
            let privateSocket = try SocketWebSocket(port: server.port, path: "/websocket?name=private-ws&token=\(member)")
            try privateSocket.send(text: "inside")
            #expect(try privateSocket.readText() == riverMessage("private-ws", 1, "\"inside\""))
        }
    }

    @Test func adminRoutesNeedTheSecretButHealthDoesNot() async throws {
        try await withServer(self.secured) { server in
            _ = try httpRequest(port: server.port, "GET", "/publish?name=kept&data=x&secret=\(Self.secret)")
            #expect(try httpRequest(port: server.port, "GET", "/channels/kept").status == 401)
            #expect(try httpRequest(port: server.port, "DELETE", "/channels/kept?secret=nope").status == 403)
            #expect(try httpRequest(port: server.port, "GET", "/channels?prefix=k").status == 401)
            #expect(try httpRequest(port: server.port, "GET", "/stats").status == 401)
            #expect(try httpRequest(port: server.port, "GET", "/metrics").status == 401)
            let listed = try httpRequest(
                port: server.port,
                "GET",
                "/channels?prefix=k",
                headers: ["X-River-Secret: \(Self.secret)"]
            )
            #expect(listed.body.contains("\"kept\""))
            #expect(try httpRequest(port: server.port, "GET", "/stats?secret=\(Self.secret)").status == 200)
            #expect(try httpRequest(port: server.port, "DELETE", "/channels/kept?secret=\(Self.secret)").status == 200)
            #expect(try httpRequest(port: server.port, "GET", "/health").status == 200)
        }
    }

    @Test func adminRoutesMoveToTheAdminListener() async throws {
        try await withServer(configured { $0.adminPort = 0 }) { server in
            let adminPort = try #require(server.server.adminAddress?.port)
            #expect(adminPort != server.port)
            for path in ["/stats", "/metrics", "/channels", "/channels/x"] {
                #expect(try httpRequest(port: server.port, "GET", path).status == 404)
            }
            #expect(try httpRequest(port: server.port, "GET", "/publish?name=x&data=1").status == 200)
            #expect(try httpRequest(port: server.port, "GET", "/health").status == 200)

            #expect(try httpRequest(port: adminPort, "GET", "/stats").body.contains("\"connections\""))
            #expect(try httpRequest(port: adminPort, "GET", "/metrics").body.contains("river_messages_published_total"))
            #expect(try httpRequest(port: adminPort, "GET", "/channels/x").status == 200)
            #expect(try httpRequest(port: adminPort, "GET", "/health").status == 200)
            #expect(try httpRequest(port: adminPort, "GET", "/publish?name=x&data=2").status == 404)
            #expect(try httpRequest(port: adminPort, "GET", "/subscribe?name=x").status == 404)
        }
    }

    @Test func secretsCanComeFromTheEnvironment() async throws {
        let river = try RiverProcess(["--threads", "1"], environment: ["RIVER_PUBLISH_SECRET": Self.secret])
        defer {
            river.signal(SIGTERM)
            _ = river.waitForExit()
        }
        #expect(try httpRequest(port: river.port, "GET", "/publish?name=e&data=x").status == 401)
        #expect(try httpRequest(port: river.port, "GET", "/publish?name=e&data=x&secret=\(Self.secret)").status == 200)
        #expect(try river.waitForLine(containing: "access control:").contains("publish_secret on"))
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
