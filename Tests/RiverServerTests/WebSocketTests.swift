import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// `/websocket` over real sockets with a hand-written RFC 6455 client.
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

    @Test func handshakeThenCatchUpThenLiveFrames() async throws {
        try await withServer { server in
            _ = try httpRequest(port: server.port, "GET", "/publish?name=room&data=before")
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=room&seq=0")
            #expect(socket.handshake.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(try socket.readText() == riverMessage("room", 1, "\"before\""))
            _ = try httpRequest(port: server.port, "GET", "/publish?name=room&data=after")
            #expect(try socket.readText() == riverMessage("room", 2, "\"after\""))
        }
    }

    @Test func clientTextFramesArePublishedToTheChannel() async throws {
        try await withServer { server in
            let listener = try server.connect()
            try listener.sendRequest("GET", "/subscribe?name=talk")
            _ = try listener.readHead()
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=talk")
            try socket.send(text: "héllo \"quoted\"")
            let expected = riverMessage("talk", 1, "\"héllo \\\"quoted\\\"\"")
            #expect(try socket.readText() == expected)  // the sender is a subscriber too
            #expect(try listener.readChunk() == expected)
            // Fragments are reassembled into one message.
            try socket.send(opcode: 0x1, Array("frag".utf8), fin: false)
            try socket.send(opcode: 0x0, Array("ment".utf8))
            #expect(try socket.readText() == riverMessage("talk", 2, "\"fragment\""))
        }
    }

    @Test func resumeWithSeqSaysLostThenReplays() async throws {
        try await withServer(configured { $0.history.size = 2 }) { server in
            try publishPipelined(port: server.port, channel: "short", count: 5)
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=short&seq=1")
            #expect(try socket.readText() == "[\"lost\", {\"channel\": \"short\", \"from\": 2, \"to\": 3}]")
            #expect(try socket.readText() == riverMessage("short", 4, "\"m4\""))
            #expect(try socket.readText() == riverMessage("short", 5, "\"m5\""))
        }
    }

    @Test func pingGetsPongAndCloseGetsClose() async throws {
        try await withServer { server in
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=p")
            try socket.send(opcode: 0x9, Array("are you there".utf8))
            #expect(try socket.read() == SocketWebSocket.Frame(opcode: 0xA, payload: Array("are you there".utf8)))
            try socket.send(opcode: 0x8, [0x03, 0xE8])
            #expect(try socket.read().closeCode == 1000)
            #expect(try socket.connection.waitForClose())
        }
    }

    @Test func heartbeatPingsAQuietConnection() async throws {
        try await withServer(configured { $0.heartbeat = .seconds(1) }) { server in
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=quiet")
            #expect(try socket.read().opcode == 0x9)
        }
    }

    @Test(arguments: [
        ("invalid UTF-8", 1007 as UInt16),
        ("too large", 1009),
        ("unmasked", 1002),
        ("reserved opcode", 1002),
    ])
    func badFramesCloseWithTheRightCodeAndOthersCarryOn(kind: String, code: UInt16) async throws {
        try await withServer(configured { $0.maxMessageSize = 1000 }) { server in
            let bystander = try SocketWebSocket(port: server.port, path: "/websocket?name=calm")
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=calm")
            switch kind {
            case "invalid UTF-8": try socket.send(opcode: 0x1, [0xC3, 0x28])
            case "too large": try socket.send(opcode: 0x1, Array(repeating: UInt8(ascii: "a"), count: 1001))
            case "unmasked": try socket.send(opcode: 0x1, Array("x".utf8), masked: false)
            default: try socket.send(opcode: 0x3, [])
            }
            #expect(try socket.read().closeCode == code, "\(kind)")
            #expect(try socket.connection.waitForClose())

            try bystander.send(text: "still here")
            #expect(try bystander.readText() == riverMessage("calm", 1, "\"still here\""))
        }
    }

    @Test(arguments: [
        (["Sec-WebSocket-Version: 8"], 426),
        ([] as [String], 426),
    ])
    func handshakeRefusals(headers: [String], status: Int) async throws {
        try await withServer { server in
            let connection = try server.connect()
            var request = ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="] + headers
            if !headers.isEmpty { request += ["Upgrade: websocket", "Connection: Upgrade"] }
            try connection.sendRequest("GET", "/websocket?name=x", headers: request)
            let response = try connection.readResponse()
            #expect(response.status == status)
            #expect(response.head.header("Sec-WebSocket-Version") == "13")
        }
    }

    @Test func originOutsideAllowedOriginsIsRefused() async throws {
        try await withServer(configured { $0.allowedOrigins = try! CORSPolicy("https://good.example") }) { server in
            #expect(throws: SocketConnection.Failure.self) {
                _ = try SocketWebSocket(
                    port: server.port,
                    path: "/websocket?name=x",
                    headers: ["Origin: https://evil.example"]
                )
            }
            let allowed = try SocketWebSocket(
                port: server.port,
                path: "/websocket?name=x",
                headers: ["Origin: https://good.example"]
            )
            try allowed.send(text: "ok")
            #expect(try allowed.readText() == riverMessage("x", 1, "\"ok\""))
        }
    }

    @Test func deletingNothingButShutdownSaysGoingAway() async throws {
        let server = try await TestServer.start()
        let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=bye")
        await server.stop()
        var frame = try socket.read()
        while frame.opcode == 0x9 { frame = try socket.read() }  // a heartbeat may come first on a slow stop
        #expect(frame.opcode == 0x8 && frame.closeCode == 1001, "opcode \(frame.opcode): \(frame.text)")
    }
}
