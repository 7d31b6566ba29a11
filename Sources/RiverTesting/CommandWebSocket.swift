/// A `river.v2` client for tests: the handshake offering the subprotocol,
/// then commands out and JSON replies in, as text.
public final class CommandWebSocket: @unchecked Sendable {
    public let socket: TestWebSocket

    public init(
        _ river: TestRiver,
        path: String = "/websocket",
        headers: [String] = [],
        from peer: String = "127.0.0.1"
    )
        async throws
    {
        self.socket = try await river.webSocket(
            path,
            headers: ["Sec-WebSocket-Protocol: river.v2"] + headers,
            from: peer
        )
    }

    /// Sends `json` as one text frame.
    public func send(_ json: String) async throws {
        try await self.socket.send(text: json)
    }

    /// Sends a command and returns the next text frame (its reply, when nothing else was due).
    public func command(_ json: String) async throws -> String {
        try await self.send(json)
        return try await self.read()
    }

    /// The next text frame.
    public func read() async throws -> String {
        try await self.socket.readText()
    }

    /// What the server has sent by now, without waiting (in-process: once everything due has run).
    public func unreadNow() async throws -> [UInt8] {
        try await self.socket.connection.unreadBytesNow()
    }
}
