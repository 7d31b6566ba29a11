import NIOCore
import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// A Part A WebSocket with `auth_url` (PROTOCOL.md C4): each message is a publish the
/// application is asked about, in order, and the socket's subscription is renewed like any
/// other. River in-process, the application a real `scripts/auth-backend.py` process.
@Suite(.serialized) struct WebSocketConsentTests {
    /// The backend answers with `ttl`: 0 keeps nothing, so every message is asked about.
    /// (`timeout`: `AuthBackendTests.configuration`'s long default but where the test needs the deadline.)
    func withBackend(
        ttl: Int,
        timeout: TimeAmount = .seconds(10),
        _ body: (TestRiver, AuthBackendProcess) async throws -> Void
    ) async throws {
        let backend = try AuthBackendProcess()
        defer { backend.stop() }
        let configuration = AuthBackendTests.configuration(backend.url("decide?ttl=\(ttl)"), timeout: timeout)
        try await withRiver(configuration) { river async throws in
            try await body(river, backend)
        }
    }

    @Test func eachMessageIsAskedAboutAndPublishedInOrderWithTheApplicationsData() async throws {
        try await self.withBackend(ttl: 0) { river, backend async throws in
            let socket = try await river.webSocket(
                "/websocket?name=room&hello=1",
                headers: ["Authorization: Bearer ada"]
            )
            #expect(try await socket.readText().hasPrefix(#"["live""#))
            let sent = ["one", "shout", "three", "four", "shout", "six"]
            for text in sent { try await socket.send(text: text) }
            for (index, text) in sent.enumerated() {
                let data = text == "shout" ? "SHOUT" : text
                #expect(try await socket.readText() == riverMessage("room", index + 1, "\"\(data)\""))
            }
            let question = try await backend.lastQuestion()
            #expect(question["action"] == .string("publish"))
            #expect(question["channels"] == .array([.string("room")]))
            #expect(question["data"] == .string("six"))
            #expect(question["client"]?["transport"] == .string("websocket"))
            #expect(question["headers"]?["authorization"] == .string("Bearer ada"))
            #expect(try await backend.count() == 1 + sent.count, "the handshake, then each message")
        }
    }

    @Test func aRefusedMessageClosesTheSocket1008WithTheApplicationsReason() async throws {
        try await self.withBackend(ttl: 0) { river, backend async throws in
            let socket = try await river.webSocket("/websocket?name=room", headers: ["Authorization: Bearer eve"])
            try await socket.send(text: "allowed")
            #expect(try await socket.readText() == riverMessage("room", 1, "\"allowed\""))
            try await backend.revoke("eve")
            try await socket.send(text: "refused")
            try await socket.send(text: "never asked")
            let close = try await socket.read()
            #expect(close.opcode == 0x8)
            #expect(close.closeCode == 1008)
            #expect(close.text.contains("revoked by the application"), "\(close.text)")
            #expect(try await river.request("GET", "/channels/room").body.contains(#""seq": 1"#), "nothing after")
        }
    }

    @Test func anUnreachableApplicationClosesTheSocket1011() async throws {
        // (AsyncHTTPClient tries to connect again until auth_timeout.)
        try await self.withBackend(ttl: 0, timeout: .milliseconds(500)) { river, backend async throws in
            let socket = try await river.webSocket("/websocket?name=room", headers: ["Authorization: Bearer ann"])
            backend.stop()
            try await socket.send(text: "nobody to ask")
            let close = try await socket.read()
            #expect(close.closeCode == 1011)
            #expect(close.text.contains("authorization backend"), "\(close.text)")
        }
    }

    /// Frames read while the application is asked wait, but no more than 4096 of them: one
    /// read of 5,000 tiny frames closes the socket 1008, and none of them is published.
    @Test func aBurstBeyondTheWaitingLimitCloses1008() async throws {
        try await self.withBackend(ttl: 0) { river, _ async throws in
            let socket = try await river.webSocket("/websocket?name=burst", headers: ["Authorization: Bearer ann"])
            let frame = TestWebSocket.frame(opcode: 0x1, Array("x".utf8))
            try await socket.connection.send(Array((0..<5_000).map { _ in frame }.joined()))
            var close = try await socket.read()
            while close.opcode != 0x8 { close = try await socket.read() }
            #expect(close.closeCode == 1008)
            #expect(close.text.contains("more than 4096 messages waiting for the application"), "\(close.text)")
            let info = try await river.request("GET", "/channels/burst")
            // The first was still being asked about when the cap was passed: nothing was published.
            #expect(info.body.contains(#""seq": 0,"#) || info.body.contains(#""seq": 0}"#), "\(info.body)")
        }
    }

    /// Renewal: when the handshake's decision expires the application is asked again;
    /// refused, the socket gets the notice, then close 1008.
    @Test func aRevokedSocketGetsTheNoticeThenClose1008() async throws {
        try await self.withBackend(ttl: 2) { river, backend async throws in
            let socket = try await river.webSocket("/websocket?name=news&hello=1", headers: ["Cookie: user=eve"])
            #expect(try await socket.readText().hasPrefix(#"["live""#))
            try await backend.revoke("eve")
            await river.advance(by: .seconds(3))
            #expect(
                try await socket.readText()
                    == #"["revoked", {"channel": "news", "reason": "revoked by the application"}]"#
            )
            let close = try await socket.read()
            #expect(close.closeCode == 1008)
        }
    }
}
