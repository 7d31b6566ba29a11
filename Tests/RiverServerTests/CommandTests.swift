import RiverTesting
import Testing

/// `river.v2` (PROTOCOL.md C2): commands over one WebSocket, each answered
/// with its id; bad commands answered and the connection kept.
@Suite struct CommandTests {
    @Test(arguments: TestRiver.Mode.allCases)
    func subscribeAcknowledgesThenDeliversAndUnsubscribeStops(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let client = try await CommandWebSocket(river)
            #expect(client.socket.handshake.header("Sec-WebSocket-Protocol") == "river.v2")
            let ok = try await client.command(#"["subscribe", {"id": 1, "channel": "a"}]"#)
            #expect(maskingEpochs(ok) == #"["ok", {"id": 1, "channel": "a", "seq": 0, "epoch": E}]"#)
            try await river.publish("a", "hi")
            #expect(try await client.read() == riverMessage("a", 1, "\"hi\""))
            #expect(
                try await client.command(#"["unsubscribe", {"id": 2, "channel": "a"}]"#)
                    == #"["ok", {"id": 2, "channel": "a"}]"#
            )
            try await river.publish("a", "gone")
            #expect(
                try await client.command(#"["publish", {"id": 3, "channel": "b", "data": "x"}]"#)
                    == #"["ok", {"id": 3, "channel": "b", "seq": 1}]"#,
                "the next frame is the publish's answer: nothing more of a"
            )
        }
    }

    @Test func manyChannelsOnOneConnectionEachWithItsCatchUp() async throws {
        try await withRiver { river in
            for index in 1...3 { try await river.publish("x", "x\(index)") }
            try await river.publish("y", "y1")
            let client = try await CommandWebSocket(river)
            let x = try await client.command(#"["subscribe", {"id": 10, "channel": "x", "seq": 1}]"#)
            #expect(maskingEpochs(x) == #"["ok", {"id": 10, "channel": "x", "seq": 1, "epoch": E}]"#)
            #expect(try await client.read() == riverMessage("x", 2, "\"x2\""))
            #expect(try await client.read() == riverMessage("x", 3, "\"x3\""))
            let y = try await client.command(#"["subscribe", {"id": 11, "channel": "y", "seq": 0}]"#)
            #expect(maskingEpochs(y) == #"["ok", {"id": 11, "channel": "y", "seq": 0, "epoch": E}]"#)
            #expect(try await client.read() == riverMessage("y", 1, "\"y1\""))
            try await river.publish("x", "x4")
            try await river.publish("y", "y2")
            #expect(try await client.read() == riverMessage("x", 4, "\"x4\""))
            #expect(try await client.read() == riverMessage("y", 2, "\"y2\""))
        }
    }

    @Test func aClientPublishingToItsOwnChannelGetsItsMessage() async throws {
        try await withRiver { river in
            let client = try await CommandWebSocket(river)
            _ = try await client.command(#"["subscribe", {"id": 1, "channel": "echo"}]"#)
            let reply = try await client.command(#"["publish", {"id": 2, "channel": "echo", "data": "me"}]"#)
            let message = try await client.read()
            #expect(
                Set([reply, message]) == [
                    #"["ok", {"id": 2, "channel": "echo", "seq": 1}]"#, riverMessage("echo", 1, "\"me\""),
                ]
            )
            _ = try await client.command(
                #"["publish", {"id": 3, "channel": "echo", "data": "/w==", "encoding": "base64"}]"#
            )
            #expect(
                try await client.read()
                    == #"["msg", {"channel": "echo", "seq": 2, "data": "/w==", "encoding": "base64"}]"#
            )
        }
    }

    @Test func subscribingTwiceChangesNothing() async throws {
        try await withRiver { river in
            let client = try await CommandWebSocket(river)
            _ = try await client.command(#"["subscribe", {"id": 1, "channel": "twice"}]"#)
            let again = try await client.command(#"["subscribe", {"id": 2, "channel": "twice"}]"#)
            #expect(maskingEpochs(again) == #"["ok", {"id": 2, "channel": "twice", "seq": 0, "epoch": E}]"#)
            try await river.publish("twice", "once")
            #expect(try await client.read() == riverMessage("twice", 1, "\"once\""))
            #expect(try await client.unreadNow() == [], "one subscription, one copy")
        }
    }

    static let badCommands: [(String, String)] = [
        ("# not json", #"["error", {"id": null, "status": 400, "reason": "malformed JSON: not JSON at byte 0"}]"#),
        (
            #"["subscribe", {"channel": "a"}]"#,
            #"["error", {"id": null, "status": 400, "reason": "'id' is required: an integer below 2^53"}]"#
        ),
        (
            #"["subscribe", {"id": 9007199254740992, "channel": "a"}]"#,
            #"["error", {"id": null, "status": 400, "reason": "'id' is required: an integer below 2^53"}]"#
        ),
        (
            #"["dance", {"id": 5, "channel": "a"}]"#,
            #"["error", {"id": 5, "status": 400, "reason": "unknown command 'dance'"}]"#
        ),
        (
            #"["unsubscribe", {"id": 6, "channel": "never"}]"#,
            #"["error", {"id": 6, "status": 404, "reason": "not subscribed to never"}]"#
        ),
        (
            #"["subscribe", {"id": 7, "channel": "a", "seq": 18446744073709551616}]"#,
            #"["error", {"id": 7, "status": 400, "reason": "'seq' must be an integer from 0 to 2^64-1"}]"#
        ),
        (
            #"["subscribe", {"id": 8, "channel": "a", "id": 9}]"#,
            #"["error", {"id": null, "status": 400, "reason": "malformed JSON: a member name given twice"}]"#
        ),
        (
            #"["subscribe", {"id": 10, "channel": ""}]"#,
            #"["error", {"id": 10, "status": 400, "reason": "invalid 'channel': channel name is empty"}]"#
        ),
        (
            #"["publish", {"id": 11, "channel": "a"}]"#,
            #"["error", {"id": 11, "status": 400, "reason": "'data' is required to publish (a string)"}]"#
        ),
        (
            #"["publish", {"id": 12, "channel": "a", "data": "%%", "encoding": "base64"}]"#,
            #"["error", {"id": 12, "status": 400, "reason": "'data' is not base64"}]"#
        ),
        (
            #"["subscribe", {"id": 13, "channel": "a", "user": "me"}]"#,
            #"["error", {"id": 13, "status": 400, "reason": "invalid 'user' parameter: self-named presence is off (presence_self_names)"}]"#
        ),
    ]

    @Test(arguments: Self.badCommands)
    func aBadCommandIsAnsweredAndTheConnectionLivesOn(command: String, reply: String) async throws {
        try await withRiver { river in
            let client = try await CommandWebSocket(river)
            #expect(try await client.command(command) == reply)
            let ok = try await client.command(#"["publish", {"id": 99, "channel": "still", "data": "here"}]"#)
            #expect(ok == #"["ok", {"id": 99, "channel": "still", "seq": 1}]"#)
        }
    }

    @Test func aBinaryFrameIsABadCommand() async throws {
        try await withRiver { river in
            let client = try await CommandWebSocket(river)
            try await client.socket.send(opcode: 0x2, [1, 2, 3])
            #expect(
                try await client.read()
                    == #"["error", {"id": null, "status": 400, "reason": "commands are text frames of JSON"}]"#
            )
        }
    }

    @Test func tooLargeIs413AndTheConnectionLivesOn() async throws {
        try await withRiver(configured { $0.maxMessageSize = 64 }) { river in
            let client = try await CommandWebSocket(river)
            let data = String(repeating: "d", count: 65)
            let big = try await client.command(#"["publish", {"id": 1, "channel": "a", "data": "\#(data)"}]"#)
            #expect(big == #"["error", {"id": 1, "status": 413, "reason": "message larger than 64 bytes"}]"#)
            let fits = String(repeating: "d", count: 64)
            #expect(
                try await client.command(#"["publish", {"id": 2, "channel": "a", "data": "\#(fits)"}]"#).contains(
                    "\"seq\": 1"
                )
            )
            let padding = String(repeating: " ", count: 40)
            let long = try await client.command(#"["subscribe", {"id": 3, "channel": "a"\#(padding)}]"#)
            #expect(long == #"["error", {"id": 3, "status": 413, "reason": "command larger than 64 bytes"}]"#)
        }
    }

    @Test func moreSubscriptionsThanAllowedIs429() async throws {
        try await withRiver(configured { $0.maxChannelsPerConnection = 2 }) { river in
            let client = try await CommandWebSocket(river)
            _ = try await client.command(#"["subscribe", {"id": 1, "channel": "one"}]"#)
            _ = try await client.command(#"["subscribe", {"id": 2, "channel": "two"}]"#)
            let third = try await client.command(#"["subscribe", {"id": 3, "channel": "three"}]"#)
            #expect(
                third
                    == #"["error", {"id": 3, "status": 429, "reason": "more than 2 subscriptions (max_channels_per_connection)"}]"#
            )
            _ = try await client.command(#"["unsubscribe", {"id": 4, "channel": "one"}]"#)
            #expect(
                try await client.command(#"["subscribe", {"id": 5, "channel": "three"}]"#).hasPrefix(
                    #"["ok", {"id": 5"#
                )
            )
        }
    }

    @Test func moreCommandsPerSecondThanAllowedAre429UntilTheBucketRefills() async throws {
        try await withRiver(configured { $0.maxCommandsPerSecond = 3 }) { river in
            let client = try await CommandWebSocket(river)
            for id in 1...3 {
                #expect(
                    try await client.command(#"["publish", {"id": \#(id), "channel": "r", "data": "x"}]"#).hasPrefix(
                        "[\"ok\""
                    )
                )
            }
            let refused = try await client.command(#"["publish", {"id": 4, "channel": "r", "data": "x"}]"#)
            #expect(refused == #"["error", {"id": 4, "status": 429, "reason": "more than 3 commands per second"}]"#)
            let unreadable = try await client.command(#"["publish", {"id": "six"}]"#)
            #expect(unreadable.hasPrefix(#"["error", {"id": null, "status": 400"#), "malformed, over the rate or not")
            await river.advance(by: .seconds(1))
            #expect(
                try await client.command(#"["publish", {"id": 5, "channel": "r", "data": "x"}]"#).hasPrefix("[\"ok\"")
            )
        }
    }

    @Test func namesThatDifferOnlyInTheirBytesAreTwoChannels() async throws {
        try await withRiver { river in
            let client = try await CommandWebSocket(river)
            _ = try await client.command(#"["subscribe", {"id": 1, "channel": "caf\u00e9"}]"#)
            #expect(
                try await client.command(#"["publish", {"id": 2, "channel": "cafe\u0301", "data": "nfd"}]"#).hasPrefix(
                    "[\"ok\""
                )
            )
            #expect(try await client.unreadNow() == [], "the precomposed name is another channel")
        }
    }

    @Test func aDeletedChannelIsRevokedAloneAndTheOthersGoOn() async throws {
        let configuration = configured { try! $0.set("admin_secret", to: "0123456789abcdef") }
        try await withRiver(configuration) { river in
            let client = try await CommandWebSocket(river)
            _ = try await client.command(#"["subscribe", {"id": 1, "channel": "doomed"}]"#)
            _ = try await client.command(#"["subscribe", {"id": 2, "channel": "kept"}]"#)
            let deleted = try await river.request(
                "DELETE",
                "/channels/doomed",
                headers: ["X-River-Secret: 0123456789abcdef"]
            )
            #expect(deleted.status == 200)
            #expect(try await client.read() == #"["revoked", {"channel": "doomed", "reason": "channel deleted"}]"#)
            try await river.publish("kept", "still")
            #expect(try await client.read() == riverMessage("kept", 1, "\"still\""))
        }
    }

    @Test func aPrivateChannelNeedsWhatHTTPNeeds() async throws {
        try await withRiver(configured { try! $0.set("private_prefix", to: "private-") }) { river in
            let client = try await CommandWebSocket(river)
            let refused = try await client.command(#"["subscribe", {"id": 1, "channel": "private-x"}]"#)
            #expect(
                refused
                    == #"["error", {"id": 1, "status": 401, "reason": "channel private-x is private: a token is required"}]"#
            )
            let presence = try await client.command(#"["presence", {"id": 2, "channel": "private-x"}]"#)
            #expect(presence.hasPrefix(#"["error", {"id": 2, "status": 401"#))
        }
    }

    @Test func presenceAnswersAndEventsReachThoseWhoAskedForThem() async throws {
        try await withRiver(configured { $0.presenceSelfNames = true }) { river in
            let watcher = try await CommandWebSocket(river)
            _ = try await watcher.command(#"["subscribe", {"id": 1, "channel": "room", "presence": true}]"#)
            let ana = try await CommandWebSocket(river)
            _ = try await ana.command(#"["subscribe", {"id": 1, "channel": "room", "user": "ana"}]"#)
            #expect(try await watcher.read() == #"["join", {"channel": "room", "user": "ana", "unverified": true}]"#)
            let answer = try await watcher.command(#"["presence", {"id": 2, "channel": "room"}]"#)
            #expect(
                answer
                    == #"["ok", {"id": 2, "channel": "room", "connections": 2, "users": 1, "members": [{"user": "ana", "unverified": true, "connections": 1}]}]"#
            )
            _ = try await ana.command(#"["unsubscribe", {"id": 2, "channel": "room"}]"#)
            await river.advance(by: .seconds(5))
            #expect(try await watcher.read() == #"["leave", {"channel": "room", "user": "ana", "unverified": true}]"#)
        }
    }

    @Test func withoutTheSubprotocolPartAHolds() async throws {
        try await withRiver { river in
            let legacy = try await river.webSocket("/websocket?name=plain")
            #expect(legacy.handshake.header("Sec-WebSocket-Protocol") == nil)
            let refused = try await river.request(
                "GET",
                "/websocket",
                headers: TestWebSocket.handshakeHeaders + ["Sec-WebSocket-Protocol: River.V2"]
            )
            #expect(refused.status == 400, "subprotocol names are compared exactly; without river.v2 a name is needed")
        }
    }
}
