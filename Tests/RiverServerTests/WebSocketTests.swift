import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// `/websocket` with a hand-written RFC 6455 client. In-process; the first
/// exchange also runs live.
@Suite struct WebSocketTests {
    @Test func acceptKeyMatchesRFC6455Example() {
        // https://www.rfc-editor.org/rfc/rfc6455#section-1.3
        #expect(WebSocketHandshake.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foo".utf8)) == "Zm9v")
        #expect(Base64.decodedLength("dGhlIHNhbXBsZSBub25jZQ==") == 16)
        #expect(Base64.decodedLength("not base64!") == nil)
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func handshakeThenCatchUpThenLiveFrames(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            _ = try await river.request("GET", "/publish?name=room&data=before")
            let socket = try await river.webSocket("/websocket?name=room&seq=0")
            #expect(socket.handshake.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(try await socket.readText() == riverMessage("room", 1, "\"before\""))
            _ = try await river.request("GET", "/publish?name=room&data=after")
            #expect(try await socket.readText() == riverMessage("room", 2, "\"after\""))
        }
    }

    @Test func clientTextFramesArePublishedToTheChannel() async throws {
        try await withRiver { river in
            let listener = try await river.connect()
            try await listener.sendRequest("GET", "/subscribe?name=talk&hello=1")
            _ = try await listener.readHead()
            #expect(try await listener.readChunk()?.hasPrefix("[\"live\"") == true)
            let socket = try await river.webSocket("/websocket?name=talk")
            try await socket.send(text: "héllo \"quoted\"")
            let expected = riverMessage("talk", 1, "\"héllo \\\"quoted\\\"\"")
            #expect(try await socket.readText() == expected)  // the sender is a subscriber too
            #expect(try await listener.readChunk() == expected)
            // Fragments are reassembled into one message.
            try await socket.send(opcode: 0x1, Array("frag".utf8), fin: false)
            try await socket.send(opcode: 0x0, Array("ment".utf8))
            #expect(try await socket.readText() == riverMessage("talk", 2, "\"fragment\""))
        }
    }

    /// Live, on four event loops: a channel's home is often another loop than its
    /// connection's, so the subscription comes a turn later and the frame sent
    /// with the handshake waits for it (in-process, on one loop, it is at once).
    @Test func aFrameSentWithTheHandshakeReachesTheSendersOwnSubscription() async throws {
        try await withRiver(.live, threads: 4) { river in
            for index in 0..<8 {
                let connection = try await river.connect()
                let text = "early \(index)"
                let handshake = TestConnection.request(
                    "GET",
                    "/websocket?name=early-\(index)",
                    headers: TestWebSocket.handshakeHeaders
                )
                try await connection.send(handshake + TestWebSocket.frame(opcode: 0x1, Array(text.utf8)))
                #expect(try await connection.readHead().status == 101)
                let expected = riverMessage("early-\(index)", 1, "\"\(text)\"")
                #expect(try await connection.readBytes(2) == [0x81, UInt8(expected.utf8.count)])
                #expect(try await connection.readBytes(expected.utf8.count) == Array(expected.utf8))
                await connection.close()
            }
        }
    }

    @Test func resumeWithSeqSaysLostThenReplays() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 2 }) { river in
            for seq in 1...5 { try await river.publish("short", "m\(seq)") }
            let socket = try await river.webSocket("/websocket?name=short&seq=1")
            #expect(try await socket.readText() == "[\"lost\", {\"channel\": \"short\", \"from\": 2, \"to\": 3}]")
            #expect(try await socket.readText() == riverMessage("short", 4, "\"m4\""))
            #expect(try await socket.readText() == riverMessage("short", 5, "\"m5\""))
        }
    }

    @Test func pingGetsPongAndCloseGetsClose() async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=p")
            try await socket.send(opcode: 0x9, Array("are you there".utf8))
            #expect(try await socket.read() == TestWebSocket.Frame(opcode: 0xA, payload: Array("are you there".utf8)))
            try await socket.send(opcode: 0x8, [0x03, 0xE8])
            #expect(try await socket.read().closeCode == 1000)
            #expect(try await socket.connection.waitForClose())
        }
    }

    @Test func heartbeatPingsAQuietConnection() async throws {
        try await withRiver(.inProcess, configured { $0.heartbeat = .seconds(1) }) { river in
            let socket = try await river.webSocket("/websocket?name=quiet")
            #expect(try await socket.connection.unreadBytesNow() == [], "nothing before the heartbeat is due")
            await river.advance(by: .seconds(1))
            #expect(try await socket.read().opcode == 0x9)
        }
    }

    @Test(arguments: [
        ("invalid UTF-8", 1007 as UInt16),
        ("too large", 1009),
        ("unmasked", 1002),
        ("reserved opcode", 1002),
    ])
    func badFramesCloseWithTheRightCodeAndOthersCarryOn(kind: String, code: UInt16) async throws {
        try await withRiver(.inProcess, configured { $0.maxMessageSize = 1000 }) { river in
            let bystander = try await river.webSocket("/websocket?name=calm")
            let socket = try await river.webSocket("/websocket?name=calm")
            switch kind {
            case "invalid UTF-8": try await socket.send(opcode: 0x1, [0xC3, 0x28])
            case "too large": try await socket.send(opcode: 0x1, Array(repeating: UInt8(ascii: "a"), count: 1001))
            case "unmasked": try await socket.send(opcode: 0x1, Array("x".utf8), masked: false)
            default: try await socket.send(opcode: 0x3, [])
            }
            #expect(try await socket.read().closeCode == code, "\(kind)")
            // The server waits for the client's close frame, two ticks at most, then closes.
            #expect(await !socket.connection.isClosedByServer())
            await river.advance(by: .seconds(2))
            #expect(try await socket.connection.waitForClose())

            try await bystander.send(text: "still here")
            #expect(try await bystander.readText() == riverMessage("calm", 1, "\"still here\""))
        }
    }

    @Test(arguments: [
        (["Sec-WebSocket-Version: 8"], 426),
        ([] as [String], 426),
    ])
    func handshakeRefusals(headers: [String], status: Int) async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            var request = ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + headers
            if !headers.isEmpty { request += ["Upgrade: websocket", "Connection: Upgrade"] }
            try await connection.sendRequest("GET", "/websocket?name=x", headers: request)
            let response = try await connection.readResponse()
            #expect(response.status == status)
            #expect(response.head.header("Sec-WebSocket-Version") == "13")
        }
    }

    /// RFC 6455 section 11.3.1 and 11.3.5: `Sec-WebSocket-Key` and `Sec-WebSocket-Version`
    /// must not appear more than once in a request (over HTTP/2 there is no key: RFC 8441 section 5).
    @Test(
        arguments: (TestRiver.bridgesHTTP2 ? [] : ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
            + ["Sec-WebSocket-Version: 13"]
    )
    func aRepeatedKeyOrVersionIs400(_ repeated: String) async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            let headers = [
                "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13", repeated,
            ]
            try await connection.sendRequest("GET", "/websocket?name=x", headers: headers)
            let response = try await connection.readResponse()
            #expect(response.status == 400)
            #expect(response.body.contains("appears more than once"), "\(response.body)")
        }
    }

    @Test func originOutsideAllowedOriginsIsRefused() async throws {
        let goodOnly = configured { $0.allowedOrigins = try! CORSPolicy("https://good.example") }
        try await withRiver(.inProcess, goodOnly) { river in
            let refused = await #expect(throws: TestFailure.self) {
                _ = try await river.webSocket("/websocket?name=x", headers: ["Origin: https://evil.example"])
            }
            #expect(refused?.description == "handshake answered 403")
            let allowed = try await river.webSocket("/websocket?name=x", headers: ["Origin: https://good.example"])
            try await allowed.send(text: "ok")
            #expect(try await allowed.readText() == riverMessage("x", 1, "\"ok\""))
        }
    }

    @Test func deletingNothingButShutdownSaysGoingAway() async throws {
        let river = try await TestRiver.start()
        let socket = try await river.webSocket("/websocket?name=bye")
        await river.stop()
        // (In-process the clock stands still: no heartbeat comes first.)
        let frame = try await socket.read()
        #expect(frame.opcode == 0x8 && frame.closeCode == 1001, "opcode \(frame.opcode): \(frame.text)")
        #expect(try await socket.connection.waitForClose())
    }
}
