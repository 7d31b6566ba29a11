import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// WebSocket over HTTP/2 (RFC 8441): River announces SETTINGS_ENABLE_CONNECT_PROTOCOL, and an
/// extended CONNECT with `:protocol websocket` to `/websocket` is a WebSocket on that stream —
/// Part A and `river.v2` alike, beside other streams of the connection, checked as an
/// HTTP/1.1 handshake is, closed by the closing handshake; nothing it made outlives it.
@Suite struct HTTP2WebSocketTests {
    static let cleartext = configured { $0.http2Cleartext = true }

    @Test(arguments: TestRiver.Mode.allCases)
    func aPartAWebSocketOnAStreamSubscribesAndPublishes(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, Self.cleartext) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.awaitSettings()
            #expect(h2.serverSettings[0x8] == 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL")
            try await h2.connectWebSocket(stream: 1, "/websocket?name=room&hello=1")
            let head = try await h2.head(stream: 1)
            #expect(head.status == 200)
            #expect(!head.headers.contains { $0.0 == "sec-websocket-accept" || $0.0 == "upgrade" })
            #expect(try await h2.webSocketText(stream: 1).hasPrefix(#"["live""#))
            try await h2.request(stream: 3, "GET", "/sse?name=room&hello=1")
            #expect(try await h2.head(stream: 3).status == 200)
            _ = try await h2.data(stream: 3, containing: "event: live")

            try await h2.sendWebSocket(stream: 1, Array("over h2".utf8))
            #expect(try await h2.webSocketText(stream: 1) == riverMessage("room", 1, "\"over h2\""))
            #expect(try await h2.data(stream: 3, containing: "over h2").contains("id: 1"), "the SSE sibling")

            try await h2.sendWebSocket(stream: 1, opcode: 0x8, [0x03, 0xE8])
            let close = try await h2.webSocketFrame(stream: 1)
            #expect(close.opcode == 0x8 && close.payload.prefix(2) == [0x03, 0xE8])
            try await h2.request(stream: 5, "GET", "/health")
            #expect(try await h2.response(stream: 5).status == 200, "the connection goes on")
            await h2.close()
        }
    }

    @Test func aRiverV2WebSocketOnAStreamTakesCommands() async throws {
        try await withRiver(Self.cleartext) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.connectWebSocket(stream: 1, "/websocket", headers: [("sec-websocket-protocol", "river.v2")])
            let head = try await h2.head(stream: 1)
            #expect(head.status == 200)
            #expect(head.headers.contains { $0 == ("sec-websocket-protocol", "river.v2") })
            try await h2.sendWebSocket(stream: 1, Array(#"["subscribe", {"id": 1, "channel": "a"}]"#.utf8))
            #expect(try await h2.webSocketText(stream: 1).hasPrefix(#"["ok", {"id": 1"#))
            try await river.publish("a", "hello")
            #expect(try await h2.webSocketText(stream: 1).contains(#""data": "hello""#))
            await h2.close()
        }
    }

    /// What an HTTP/1.1 handshake would be refused for is refused on a stream too; a CONNECT
    /// for anything but a WebSocket is 400; the connection serves on.
    @Test func refusedHandshakesAnswerWithTheirStatus() async throws {
        try await withRiver(Self.cleartext) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.connectWebSocket(stream: 1, "/websocket")
            let noName = try await h2.response(stream: 1)
            #expect(noName.status == 400)
            try await h2.connectWebSocket(stream: 3, "/websocket?name=x", headers: [("sec-websocket-version", "8")])
            #expect(try await h2.response(stream: 3).status == 400, "two versions, or not 13")
            try await h2.connectWebSocket(stream: 5, "/websocket?name=x", protocol: "connect-udp")
            let other = try await h2.response(stream: 5)
            #expect(other.status == 400)
            #expect(other.body.contains("websocket only"))
            try await h2.connectWebSocket(stream: 7, "/sse?name=x")
            #expect(try await h2.response(stream: 7).status == 404, "not a WebSocket route")
            try await h2.request(stream: 9, "GET", "/health")
            #expect(try await h2.response(stream: 9).status == 200)
            await h2.close()
        }
    }

    /// The stream's bridge, handler and subscriber are freed when the WebSocket closes, while
    /// the connection stays open.
    @Test func nothingTheWebSocketMadeOutlivesIt() async throws {
        let probe = LifetimeProbe()
        try await withRiver(.live, Self.cleartext, lifetimeObserver: probe) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.connectWebSocket(stream: 1, "/websocket?name=life&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            _ = try await h2.webSocketText(stream: 1)
            try await h2.sendWebSocket(stream: 1, opcode: 0x8, [0x03, 0xE8])
            _ = try await h2.webSocketFrame(stream: 1)
            try await eventually("the WebSocket's objects are freed: \(probe.survivors)") {
                probe.survivors["WebSocketConnectionHandler"] == nil && probe.survivors["HTTP2StreamBridge"] == nil
                    && probe.survivors["HTTP2ConnectionHandler"] == 1
            }
            await h2.close()
            try await eventually("everything is freed: \(probe.survivors)") { probe.survivors.isEmpty }
            #expect(probe.trackedKinds["WebSocketConnectionHandler"] == 1, "\(probe.trackedKinds)")
        }
    }
}
