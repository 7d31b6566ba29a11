import NIOCore
import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// `auth_url` against a real application process (`scripts/auth-backend.py`,
/// PROTOCOL.md C4): River in-process, the application a child process on
/// 127.0.0.1, the HTTP client between them real.
@Suite(.serialized) struct AuthBackendTests {
    /// River asking `url`. The default `auth_timeout` is long: on a loaded machine the Python
    /// application may take over a second to answer, which would turn a test of what it
    /// answers into one of the deadline (only the deadline's own tests set a short one).
    static func configuration(_ url: String, timeout: TimeAmount = .seconds(10)) -> RiverConfiguration {
        configured {
            $0.authURL = url
            $0.authTimeout = timeout
            try! $0.set("allowed_origins", to: "https://app.example")
        }
    }

    /// Runs `body` with a fresh backend and a River asking its `path`.
    func withBackend(
        _ path: String = "decide",
        timeout: TimeAmount = .seconds(10),
        _ body: (TestRiver, AuthBackendProcess) async throws -> Void
    ) async throws {
        let backend = try AuthBackendProcess()
        defer { backend.stop() }
        try await withRiver(Self.configuration(backend.url(path), timeout: timeout)) { river async throws in
            try await body(river, backend)
        }
    }

    @Test func theApplicationAllowsAndRefusesPerChannelNamingIt() async throws {
        try await self.withBackend { river, backend async throws in
            let refused = try await river.request("GET", "/sse?name=a&name=deny-b", headers: ["Cookie: user=u1"])
            #expect(refused.status == 403)
            #expect(refused.body.hasPrefix("deny-b: not a member"))
            let question = try await backend.lastQuestion()
            #expect(question["action"] == .string("subscribe"))
            #expect(question["channels"] == .array([.string("a"), .string("deny-b")]))
            #expect(question["headers"]?["cookie"] == .string("user=u1"))
            #expect(question["client"]?["transport"] == .string("sse"))
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?hello=1&name=a", headers: ["Cookie: user=u1"])
            #expect(try await stream.readHead().status == 200)
        }
    }

    @Test func oneQuestionPerCredentialThenTheCache() async throws {
        try await self.withBackend { river, backend async throws in
            for _ in 0..<10 {
                #expect(
                    try await river.request("GET", "/presence?name=room", headers: ["Cookie: user=u1"]).status == 200
                )
            }
            #expect(try await backend.count() == 1)
            #expect(try await river.request("GET", "/presence?name=room", headers: ["Cookie: user=u2"]).status == 200)
            #expect(try await river.request("GET", "/presence?name=room").status == 200)
            #expect(try await backend.count() == 3)

            // The operator's view: /stats, /metrics and the dashboard's samples say the same.
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains(#""auth": {"requests": 3, "cache_hits": 9, "coalesced": 0, "overloaded": 0, "#))
            #expect(stats.contains(#""failures": 0, "latency_us": {"p50": "#) && !stats.contains(#""p50": null"#))
            let metrics = try await river.request("GET", "/metrics").body
            #expect(
                metrics.contains("river_auth_requests_total 3\n") && metrics.contains("river_auth_cache_hits_total 9\n")
            )
            #expect(metrics.contains("river_auth_latency_seconds_count 3\n"), "\(metrics)")
            let watcher = try await river.connect()
            try await watcher.sendRequest("GET", "/stats/stream")
            #expect(try await watcher.readHead().status == 200)
            await river.advance(by: .seconds(2))
            let samples = String(decoding: try await watcher.readSome(), as: UTF8.self)
            #expect(samples.contains(#""auth": {"requests": "#), "\(samples)")
        }
    }

    @Test func withoutAnApplicationStatsSayAuthNull() async throws {
        try await withRiver { river in
            let stats = try await river.request("GET", "/stats").body
            #expect(stats.contains(#""auth": null, "#))
            let metrics = try await river.request("GET", "/metrics").body
            #expect(!metrics.contains("river_auth_latency_seconds"))
        }
    }

    @Test func aHundredConcurrentSubscribesAskOnce() async throws {
        try await self.withBackend { river, backend async throws in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<100 {
                    group.addTask {
                        try await river.request("GET", "/presence?name=hot", headers: ["Cookie: user=many"]).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 100))
            #expect(try await backend.count() == 1)
        }
    }

    /// Fail closed: each way an application can fail refuses with 503 and a reason, in time.
    /// Only the slow application meets a 300 ms `auth_timeout`; the others get 3 s, so a
    /// loaded machine (a 10 MB answer takes Python a while) cannot turn their reason into
    /// the deadline's.
    @Test(arguments: [
        ("slow", "did not answer within 300 ms"), ("garbage", "not JSON"), ("huge", "larger than"),
        ("deep", "not JSON"), ("redirect", "answered 302"), ("error", "answered 500"),
    ])
    func aFailingApplicationRefusesWith503(path: String, reason: String) async throws {
        let timeout: TimeAmount = path == "slow" ? .milliseconds(300) : .seconds(3)
        try await self.withBackend(path, timeout: timeout) { river, _ async throws in
            let started = ContinuousClock.now
            let answer = try await river.request("GET", "/sse?name=a")
            if path == "slow" {
                // The slow application answers after 5 s: an answer well before that is River's
                // own deadline. (Wall-clock bounds tighter than this flake on a loaded machine;
                // the deadline itself is `auth_timeout`, checked in-process by AuthorizerTests.)
                #expect(ContinuousClock.now - started < .seconds(3), "answered at auth_timeout, not by the application")
            }
            #expect(answer.status == 503)
            #expect(answer.body.contains(reason), "\(answer.body)")
            #expect(answer.body.filter { $0 == "\n" }.count == 1)
        }
    }

    @Test func anApplicationThatIsDownRefusesWith503() async throws {
        let backend = try AuthBackendProcess()
        let url = backend.url()
        backend.stop()
        try await withRiver(Self.configuration(url, timeout: .milliseconds(300))) { river async throws in
            let started = ContinuousClock.now
            let answer = try await river.request("POST", "/publish?name=a", body: "hi")
            // Within auth_timeout by design; the bound is far above it (1 s took 1.26 s beside the
            // whole suite) and far below what a connection attempt without a deadline would take.
            #expect(ContinuousClock.now - started < .seconds(5), "answered at auth_timeout")
            #expect(answer.status == 503)
            // (AsyncHTTPClient tries to connect again until auth_timeout: a blip does not refuse anyone.)
            #expect(
                answer.body.contains("cannot be reached") || answer.body.contains("did not answer within 300 ms"),
                "\(answer.body)"
            )
        }
    }

    /// The application is a dependency like a Redis shard: with it down, every route that
    /// needs its word answers 503 saying why, every other one as usual, none 500.
    @Test func withTheApplicationDownNoRouteAnswers500() async throws {
        let backend = try AuthBackendProcess()
        let url = backend.url()
        backend.stop()
        var configuration = Self.configuration(url, timeout: .milliseconds(300))
        configuration.adminSecret = Secret("auth-sweep-admin-secret")
        try await withRiver(configuration) { river async throws in
            let why = ["the authorization backend ", "fail closed)"]
            var sweep = RouteSweep()
            sweep.request("GET", "/publish?name=a&data=x", 503, says: why)
            sweep.request("POST", "/publish?name=a", body: "x", 503, says: why)
            sweep.stream("/subscribe?name=a&hello=1", 503, says: why)
            sweep.stream("/sse?name=a&hello=1", 503, says: why)
            sweep.stream("/subscribe?name=a&name=b&hello=1", 503, says: why)
            sweep.request("GET", "/subscribe?name=a&callback=f", 503, says: why)
            sweep.request("GET", "/presence?name=a", 503, says: why)
            sweep.webSocket("/websocket?name=a", 0, says: ["503"])
            let admin = "secret=auth-sweep-admin-secret"
            sweep.request("GET", "/stats?\(admin)", 200, says: [#""auth": {"requests": "#])
            sweep.request("GET", "/metrics?\(admin)", 200, says: ["river_auth_failures_total"])
            sweep.request("GET", "/channels?\(admin)", 200, says: [#"{"channels": ["#])
            sweep.request("GET", "/channels/a?\(admin)", 404)
            sweep.request("GET", "/dashboard?\(admin)", 200)
            sweep.request("GET", "/health", 200, says: ["ok\n"])
            sweep.request("GET", "/lib.js", 200, says: ["Comet"])
            let broken = await sweep.check(river)
            #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
        }
    }

    @Test func aPublishIsAskedWithItsDataAndMayBeReplaced() async throws {
        try await self.withBackend { river, backend async throws in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?hello=1&name=a")
            #expect(try await stream.readHead().status == 200)
            _ = try await stream.readChunk()
            let published = try await river.request(
                "POST",
                "/publish?name=a",
                headers: ["Content-Type: text/plain", "Cookie: user=u1"],
                body: "shout"
            )
            #expect(published.status == 200)
            #expect(try await stream.readChunk() == #"["msg", {"channel": "a", "seq": 1, "data": "SHOUT"}]"#)
            let question = try await backend.lastQuestion()
            #expect(question["data"] == .string("shout"))
            #expect(question["headers"]?["cookie"] == nil, "a cookie never authorizes a publish")
        }
    }

    /// A cookie goes only where River would honour one: not cross-site, not to JSONP.
    @Test func aCrossSiteOrScriptRequestIsAskedWithoutItsCookie() async throws {
        try await self.withBackend { river, backend async throws in
            let headers = ["Cookie: user=u1", "Origin: https://app.example"]
            #expect(try await river.request("GET", "/presence?name=p", headers: headers).status == 200)
            #expect(try await backend.lastQuestion()["headers"]?["cookie"] == .string("user=u1"))
            _ = try await river.request(
                "GET",
                "/presence?name=p",
                headers: ["Cookie: user=u1", "Origin: https://evil.example"]
            )
            // (An origin not allowed is refused by River before the application is asked.)
            #expect(try await backend.count() == 1)
            let script = try await river.connect()
            try await script.sendRequest("GET", "/subscribe?name=p&callback=f&keep=0", headers: ["Cookie: user=u1"])
            try await eventually("the JSONP subscribe is asked about") { try await backend.count() == 2 }
            let question = try await backend.lastQuestion()
            #expect(question["client"]?["transport"] == .string("jsonp"))
            #expect(question["headers"]?["cookie"] == nil)
        }
    }

    @Test func theApplicationNamesThePresenceMember() async throws {
        try await self.withBackend { river, _ async throws in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?hello=1&name=room", headers: ["Cookie: user=ada"])
            #expect(try await stream.readHead().status == 200)
            _ = try await stream.readChunk()
            let presence = try await river.request("GET", "/presence?name=room", headers: ["Cookie: user=ada"])
            #expect(presence.body.contains(#""users": 1, "members": [{"user": "ada", "info": {"#), "\(presence.body)")
        }
    }

    @Test func riverV2AsksAtTheHandshakeAndPerCommand() async throws {
        try await self.withBackend { river, backend async throws in
            try await backend.revoke("mallory")
            let refused = try await river.connect()
            try await refused.sendRequest(
                "GET",
                "/websocket",
                headers: [
                    "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: river.v2",
                    "Cookie: user=mallory",
                ]
            )
            let head = try await refused.readResponse()
            #expect(head.status == 403)
            #expect(head.body.hasPrefix("revoked by the application"))
            let client = try await CommandWebSocket(river, headers: ["Cookie: user=ada"])
            #expect(
                try await client.command(#"["subscribe", {"id": 1, "channel": "deny-x"}]"#)
                    == #"["error", {"id": 1, "status": 403, "reason": "deny-x: not a member"}]"#
            )
            #expect(
                try await client.command(#"["subscribe", {"id": 2, "channel": "a"}]"#)
                    .hasPrefix(#"["ok", {"id": 2, "channel": "a""#)
            )
            #expect(try await backend.lastQuestion()["client"]?["transport"] == .string("river.v2"))
        }
    }

    @Test func disconnectingAUserEndsEachOfItsConnectionsAndOnlyAnAdminMayAsk() async throws {
        try await self.withBackend { river, _ async throws in
            var streams: [TestConnection] = []
            for user in ["ada", "ada", "bob"] {
                let stream = try await river.connect()
                try await stream.sendRequest("GET", "/subscribe?hello=1&name=room", headers: ["Cookie: user=\(user)"])
                #expect(try await stream.readHead().status == 200)
                _ = try await stream.readChunk()
                streams.append(stream)
            }
            let client = try await CommandWebSocket(river, headers: ["Cookie: user=ada"])
            #expect(try await client.command(#"["subscribe", {"id": 1, "channel": "room"}]"#).hasPrefix(#"["ok""#))
            let outsider = try await river.request("POST", "/users/ada/disconnect", from: "203.0.113.7")
            #expect(outsider.status == 403)
            #expect(try await river.request("GET", "/users/ada/disconnect").status == 405)
            let answer = try await river.request("POST", "/users/ada/disconnect")
            #expect(answer.status == 200)
            #expect(answer.body == #"{"user": "ada", "connections": 3}"#)
            #expect(try await streams[0].waitForClose())
            #expect(try await streams[1].waitForClose())
            #expect(try await client.socket.connection.waitForClose())
            #expect(try await streams[2].unreadBytesNow() == [], "bob stays")
            #expect(
                try await river.request("POST", "/users/ada/disconnect").body == #"{"user": "ada", "connections": 0}"#
            )
        }
    }

    /// Renewal (C4): when the decision expires the application is asked again; refused, the channel alone ends.
    @Test func aRevokedUserLosesTheChannelWhenItsDecisionIsRenewed() async throws {
        let backend = try AuthBackendProcess()
        defer { backend.stop() }
        try await withRiver(Self.configuration(backend.url("decide?ttl=2"))) { river async throws in
            let eve = try await CommandWebSocket(river, headers: ["Cookie: user=eve"])
            let ann = try await CommandWebSocket(river, headers: ["Cookie: user=ann"])
            for client in [eve, ann] {
                #expect(try await client.command(#"["subscribe", {"id": 1, "channel": "news"}]"#).hasPrefix(#"["ok""#))
                #expect(try await client.command(#"["subscribe", {"id": 2, "channel": "other"}]"#).hasPrefix(#"["ok""#))
            }
            try await backend.revoke("eve")
            await river.advance(by: .seconds(3))
            let revoked = Set([try await eve.read(), try await eve.read()])
            #expect(
                revoked == [
                    #"["revoked", {"channel": "news", "reason": "revoked by the application"}]"#,
                    #"["revoked", {"channel": "other", "reason": "revoked by the application"}]"#,
                ]
            )
            try await river.publish("news", "after")
            #expect(try await ann.read().contains(#""data": "after""#))
            #expect(try await eve.unreadNow() == [], "eve is no longer on news")
            #expect(try await eve.command(#"["unsubscribe", {"id": 3, "channel": "news"}]"#).contains("404"))
        }
    }

    /// Renewal over HTTP: a refused SSE stream gets `event: revoked`, then its response ends.
    @Test func aRevokedStreamGetsTheNoticeThenEnds() async throws {
        let backend = try AuthBackendProcess()
        defer { backend.stop() }
        try await withRiver(Self.configuration(backend.url("decide?ttl=2"))) { river async throws in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/sse?name=news", headers: ["Cookie: user=eve"])
            #expect(try await stream.readHead().status == 200)
            try await backend.revoke("eve")
            await river.advance(by: .seconds(3))
            let rest = String(decoding: try await stream.readToEnd(), as: UTF8.self)
            #expect(
                rest.hasSuffix(
                    "event: revoked\ndata: {\"channel\": \"news\", \"reason\": \"revoked by the application\"}\n\n"
                ),
                "\(rest)"
            )
        }
    }
}
