import RiverTesting
import Testing

@testable import RiverServer

/// Another web site, in the visitor's browser, against River: it may read
/// what anyone may read, but the visitor's `river_token` cookie never lets it
/// read a private channel, publish or administer (cross-site reads and
/// cross-site request forgery). In-process; the WebSocket test also runs live.
@Suite struct CrossSiteTests {
    static let evil = "Origin: https://evil.example"
    static let app = "Origin: https://app.example"

    /// Tokens, a publish secret and a private prefix; `origins` for `allowed_origins`.
    static func secured(origins: String = "*") -> RiverConfiguration {
        configured {
            $0.publishSecret = Secret(AccessControlTests.secret)
            $0.tokenSecret = Secret(AccessControlTests.tokenKey)
            $0.privatePrefix = "private-"
            $0.allowedOrigins = try! CORSPolicy(origins)
        }
    }

    func publish(_ river: TestRiver, _ channel: String, _ data: String) async throws {
        let response = try await river.request(
            "GET",
            "/publish?name=\(channel)&data=\(data)&secret=\(AccessControlTests.secret)"
        )
        #expect(response.status == 200)
    }

    @Test func anotherSiteCannotReadAPrivateChannelWithTheVisitorsCookie() async throws {
        let cookie = "Cookie: river_token=\(signedToken(channels: #"["private-room"]"#))"
        try await withRiver(.inProcess, Self.secured()) { river in
            try await self.publish(river, "private-room", "secret-plans")
            // fetch(..., {credentials: "include"}) from evil.example: the cookie does not count,
            // and the answer would not be shown to the page anyway (no Allow-Credentials).
            for path in ["/subscribe?name=private-room&seq=0&keep=0", "/sse?name=private-room&seq=0"] {
                let read = try await river.request("GET", path, headers: [Self.evil, cookie])
                #expect(read.status == 401, "\(path)")
                #expect(read.body == "channel private-room is private: a token is required\n")
                #expect(read.head.header("Access-Control-Allow-Origin") == "*")
                #expect(read.head.header("Access-Control-Allow-Credentials") == nil)
            }
            // <script src=".../subscribe?...&callback=steal">: no Origin is sent, the cookie is,
            // and any page can read a script's effects. JSONP never takes the cookie.
            let script = try await river.request(
                "GET",
                "/subscribe?name=private-room&seq=0&keep=0&callback=steal",
                headers: [cookie]
            )
            #expect(script.status == 401)
            #expect(!script.body.contains("secret-plans"))
            // The application's own page (no Origin: same origin) reads with the cookie.
            let own = try await river.request("GET", "/subscribe?name=private-room&seq=0&keep=0", headers: [cookie])
            #expect(own.body == riverMessage("private-room", 1, "\"secret-plans\""))
            // A page that holds the token and passes it itself may use JSONP.
            let token = signedToken(channels: #"["private-room"]"#)
            let passed = try await river.request(
                "GET",
                "/subscribe?name=private-room&seq=0&keep=0&callback=app.on&token=\(token)",
                headers: [Self.evil]
            )
            #expect(passed.body.hasPrefix("app.on(["))
        }
    }

    @Test func originsListedByNameMayReadWithTheCookie() async throws {
        let cookie = "Cookie: theme=dark; river_token=\(signedToken(channels: #"["private-room"]"#))"
        try await withRiver(.inProcess, Self.secured(origins: "* https://app.example")) { river in
            try await self.publish(river, "private-room", "for-the-app")
            let read = try await river.request(
                "GET",
                "/subscribe?name=private-room&seq=0&keep=0",
                headers: [Self.app, cookie]
            )
            #expect(read.status == 200)
            #expect(read.head.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(read.head.header("Access-Control-Allow-Credentials") == "true")
            #expect(read.body == riverMessage("private-room", 1, "\"for-the-app\""))
            // Only the exact bytes: a look-alike origin is another site.
            let lookalike = try await river.request(
                "GET",
                "/subscribe?name=private-room&seq=0&keep=0",
                headers: ["Origin: https://app.example.evil.example", cookie]
            )
            #expect(lookalike.status == 401)
        }
    }

    @Test func aCookieNeverPublishesOrAdministers() async throws {
        let writer = signedToken(channels: #"["private-room", "news"]"#, extra: #", "publish": true"#)
        let cookie = "Cookie: river_token=\(writer)"
        try await withRiver(.inProcess, Self.secured(origins: "* https://app.example")) { river in
            for origin in [[], [Self.app], [Self.evil]] {
                let get = try await river.request("GET", "/publish?name=news&data=forged", headers: origin + [cookie])
                #expect(get.status == 401)
                #expect(
                    get.body
                        == "publishing needs the publish secret or a token in a header or parameter, not a cookie\n"
                )
                // The form a hostile page can submit without any script.
                let form = try await river.request(
                    "POST",
                    "/publish",
                    headers: origin + [cookie, "Content-Type: application/x-www-form-urlencoded"],
                    body: "name=news&data=forged"
                )
                #expect(form.status == 401)
                let delete = try await river.request("DELETE", "/channels/news", headers: origin + [cookie])
                #expect(delete.status == 401)
            }
            let bearer = try await river.request(
                "GET",
                "/publish?name=news&data=real",
                headers: [Self.app, "Authorization: Bearer \(writer)"]
            )
            #expect(bearer.body == "{\"channel\": \"news\", \"seq\": 1}", "nothing forged was stored")
        }
    }

    @Test func preflightsAllowAFixedListOfHeaders() async throws {
        try await withRiver(.inProcess, Self.secured(origins: "* https://app.example")) { river in
            for origin in [Self.app, Self.evil] {
                let preflight = try await river.request(
                    "OPTIONS",
                    "/publish",
                    headers: [
                        origin, "Access-Control-Request-Method: POST",
                        "Access-Control-Request-Headers: x-anything, cookie, content-type",
                    ]
                )
                #expect(preflight.status == 204)
                #expect(
                    preflight.head.header("Access-Control-Allow-Headers")
                        == "Authorization, Content-Type, Last-Event-ID, X-River-Secret"
                )
                #expect(
                    preflight.head.header("Access-Control-Allow-Credentials") == (origin == Self.app ? "true" : nil)
                )
            }
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func webSocketHandshakesTakeTheCookieOnlyFromListedOrigins(_ mode: TestRiver.Mode) async throws {
        let reader = "Cookie: river_token=\(signedToken(channels: #"["private-ws"]"#))"
        let writer = "Cookie: river_token=\(signedToken(channels: #"["private-ws"]"#, extra: #", "publish": true"#))"
        try await withRiver(mode, Self.secured(origins: "* https://app.example")) { river in
            let refused = try await river.connect()
            try await refused.sendRequest(
                "GET",
                "/websocket?name=private-ws",
                headers: TestWebSocket.handshakeHeaders + [Self.evil, reader]
            )
            #expect(try await refused.readResponse().status == 401)

            // `hello=1`: the first frame (the `live` notice) says the subscription is in place.
            let listed = try await river.webSocket("/websocket?name=private-ws&hello=1", headers: [Self.app, reader])
            let local = try await river.webSocket("/websocket?name=private-ws&hello=1", headers: [reader])
            #expect(try await listed.readText().hasPrefix("[\"live\", {\"channel\": \"private-ws\""))
            #expect(try await local.readText().hasPrefix("[\"live\", {\"channel\": \"private-ws\""))
            try await self.publish(river, "private-ws", "hello")
            #expect(try await listed.readText() == riverMessage("private-ws", 1, "\"hello\""))
            #expect(try await local.readText() == riverMessage("private-ws", 1, "\"hello\""))

            // Even from the listed origin, a cookie does not make a socket's frames publishes.
            let socket = try await river.webSocket("/websocket?name=private-ws", headers: [Self.app, writer])
            try await socket.send(text: "forged")
            let closed = try await socket.read()
            #expect(closed.closeCode == 1008)
        }
    }
}
