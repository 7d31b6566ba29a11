import Foundation
import RiverTesting
import Testing

@testable import RiverServer

/// Presence over HTTP (PROTOCOL.md C3): `GET /presence`, `presence=1` events
/// on every transport, the leave delay on the server's clock, self-chosen
/// names only where the operator allows them and never as verified users.
@Suite struct PresenceTests {
    static let selfNames = configured {
        $0.presenceSelfNames = true
        $0.presenceLeaveDelay = .seconds(5)
        try! $0.set("private_prefix", to: "private-")
    }

    /// A stream subscribed with `query`, its head read and its `live` notice awaited.
    func stream(_ river: TestRiver, _ query: String) async throws -> TestConnection {
        let connection = try await river.connect()
        try await connection.sendRequest("GET", "/subscribe?hello=1&" + query)
        #expect(try await connection.readHead().status == 200)
        _ = try await connection.readChunk()
        return connection
    }

    @Test func presenceCountsConnectionsAndListsUsers() async throws {
        try await withRiver(Self.selfNames) { river in
            let empty = try await river.request("GET", "/presence?name=room")
            #expect(empty.status == 200)
            #expect(empty.body == "{\"channel\": \"room\", \"connections\": 0, \"users\": 0, \"members\": []}")
            _ = try await self.stream(river, "name=room")
            _ = try await self.stream(river, "name=room&user=bob")
            _ = try await self.stream(river, "name=room&user=bob")
            _ = try await self.stream(river, "name=room&user=al%C3%AFce")
            let answer = try await river.request("GET", "/presence?name=room")
            #expect(
                answer.body == "{\"channel\": \"room\", \"connections\": 4, \"users\": 2, \"members\": ["
                    + "{\"user\": \"alïce\", \"unverified\": true, \"connections\": 1}, "
                    + "{\"user\": \"bob\", \"unverified\": true, \"connections\": 2}]}"
            )
            #expect(answer.header("Content-Type") == "application/json")
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func joinsAndLeavesReachThoseWhoAskedButNotTheUserItself(_ mode: TestRiver.Mode) async throws {
        var configuration = Self.selfNames
        if mode == .live { configuration.presenceLeaveDelay = .milliseconds(200) }
        try await withRiver(mode, configuration) { river in
            let watcher = try await self.stream(river, "name=lobby&presence=1")
            let quiet = try await self.stream(river, "name=lobby")
            let carol = try await self.stream(river, "name=lobby&presence=1&user=carol")
            #expect(
                try await watcher.readChunk()
                    == "[\"join\", {\"channel\": \"lobby\", \"user\": \"carol\", \"unverified\": true}]"
            )
            await carol.close()
            if mode == .inProcess {
                #expect(try await watcher.unreadBytesNow() == [], "carol stays listed for the leave delay")
                await river.advance(by: .seconds(5))
            }
            #expect(
                try await watcher.readChunk()
                    == "[\"leave\", {\"channel\": \"lobby\", \"user\": \"carol\", \"unverified\": true}]"
            )
            if mode == .inProcess {
                #expect(try await quiet.unreadBytesNow() == [], "no presence=1, no events")
            }
        }
    }

    @Test func eventStreamsNameTheirPresenceEvents() async throws {
        try await withRiver(Self.selfNames) { river in
            let single = try await river.connect()
            try await single.sendRequest("GET", "/sse?name=hall&presence=1&hello=1")
            _ = try await single.readHead()
            _ = try await single.readSome()  // the live notice
            let multi = try await river.connect()
            try await multi.sendRequest("GET", "/sse?name=hall&name=other&presence=1&hello=1")
            _ = try await multi.readHead()
            var hellos = ""
            while hellos.components(separatedBy: "\n\n").count < 3 {
                hellos += String(decoding: try await multi.readSome(), as: UTF8.self)
            }
            _ = try await self.stream(river, "name=hall&user=dan")
            #expect(
                String(decoding: try await single.readSome(), as: UTF8.self)
                    == "event: join\ndata: {\"channel\": \"hall\", \"user\": \"dan\", \"unverified\": true}\n\n"
            )
            #expect(
                String(decoding: try await multi.readSome(), as: UTF8.self)
                    == "event: join\ndata: [\"join\", {\"channel\": \"hall\", \"user\": \"dan\", \"unverified\": true}]\n\n"
            )
        }
    }

    @Test func aReconnectWithinTheDelayIsNeitherLeaveNorJoin() async throws {
        try await withRiver(Self.selfNames) { river in
            let watcher = try await self.stream(river, "name=flap&presence=1")
            let first = try await self.stream(river, "name=flap&user=erin")
            _ = try await watcher.readChunk()
            await first.close()
            await river.advance(by: .seconds(4))
            _ = try await self.stream(river, "name=flap&user=erin")
            await river.advance(by: .seconds(10))
            #expect(try await watcher.unreadBytesNow() == [])
        }
    }

    /// The node's member count on `/stats` (`presence_members`) and `/metrics`.
    func members(_ river: TestRiver) async throws -> (stats: Int?, metric: Bool) {
        let stats = try await river.request("GET", "/stats").body
        let figures = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any]
        let count = figures?["presence_members"] as? Int
        let metrics = try await river.request("GET", "/metrics").body
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("river_presence_members ") }
        return (count, line.flatMap { Double($0.dropFirst("river_presence_members ".count)) } == count.map(Double.init))
    }

    /// What an operator reads: members, not connections (a user on two channels is two,
    /// two connections of one user on one channel are one, anonymous subscribers none);
    /// a member stays counted for the leave delay; a deleted channel's members go with it.
    @Test func theNodesMembersAreCountedOnStatsAndMetrics() async throws {
        let open = configured {
            $0.presenceSelfNames = true
            $0.presenceLeaveDelay = .seconds(5)
        }
        try await withRiver(open) { river in
            #expect(try await self.members(river) == (0, true))
            _ = try await self.stream(river, "name=room")
            let bob = [
                try await self.stream(river, "name=room&user=bob"),
                try await self.stream(river, "name=room&user=bob"),
            ]
            _ = try await self.stream(river, "name=room&user=alice")
            _ = try await self.stream(river, "name=hall&user=alice")
            #expect(try await self.members(river) == (3, true))
            for connection in bob { await connection.close() }
            try await eventually("bob's connections are gone") {
                try await river.request("GET", "/presence?name=room").body.contains("\"connections\": 2,")
            }
            #expect(try await self.members(river).stats == 3, "bob stays for the leave delay")
            await river.advance(by: .seconds(5))
            #expect(try await self.members(river) == (2, true))
            #expect(try await river.request("DELETE", "/channels/hall").status == 200)
            #expect(try await self.members(river) == (1, true))
        }
    }

    @Test(arguments: [
        ("/subscribe?name=a&user=x", "invalid 'user' parameter: self-named presence is off"),
        ("/subscribe?name=a&presence=2", "invalid 'presence' parameter"),
    ])
    func selfNamesAreOffByDefault(target: String, reason: String) async throws {
        try await withRiver { river in
            let response = try await river.request("GET", target)
            #expect(response.status == 400)
            #expect(response.body.hasPrefix(reason), "\(response.body)")
        }
    }

    @Test(arguments: [
        "/subscribe?name=private-x&user=mallory",
        "/subscribe?name=a&user=",
        "/subscribe?name=a&user=%0Anewline",
        "/subscribe?name=a&user=" + String(repeating: "n", count: 65),
    ])
    func selfNamesAreRefusedOnPrivateChannelsAndWhenMalformed(target: String) async throws {
        try await withRiver(Self.selfNames) { river in
            let response = try await river.request("GET", target)
            #expect(response.status == 400, "\(target)")
            #expect(response.body.hasPrefix("invalid 'user' parameter"))
        }
    }

    @Test func presenceOfAPrivateChannelNeedsWhatSubscribingNeeds() async throws {
        try await withRiver(Self.selfNames) { river in
            let refused = try await river.request("GET", "/presence?name=private-room")
            #expect(refused.status == 401)
            #expect(try await river.request("GET", "/presence").status == 400)
            #expect(try await river.request("POST", "/presence?name=x").status == 405)
        }
    }
}

/// A Part A WebSocket with a token is its `sub` for presence, like any subscriber, and
/// `/users/U/disconnect` ends it.
@Suite struct WebSocketPresenceTests {
    static let tokens = configured {
        $0.tokenSecret = Secret(AccessControlTests.tokenKey)
        $0.adminSecret = Secret("presence-admin-secret")
    }

    @Test func aTokensSubjectIsTheWebSocketsMemberAndCanBeDisconnected() async throws {
        try await withRiver(Self.tokens) { river in
            let token = signedToken(channels: #"["room"]"#, extra: #", "sub": "u1""#)
            let socket = try await river.webSocket("/websocket?name=room&hello=1&token=\(token)")
            #expect(try await socket.readText().hasPrefix(#"["live""#))
            let presence = try await river.request("GET", "/presence?name=room&token=\(token)")
            #expect(
                presence.body
                    == #"{"channel": "room", "connections": 1, "users": 1, "members": [{"user": "u1", "connections": 1}]}"#
            )
            let ended = try await river.request(
                "POST",
                "/users/u1/disconnect",
                headers: ["X-River-Secret: presence-admin-secret"]
            )
            #expect(ended.body == #"{"user": "u1", "connections": 1}"#)
            #expect(try await socket.connection.waitForClose())
        }
    }
}
