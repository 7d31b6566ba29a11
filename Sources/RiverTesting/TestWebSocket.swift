/// A minimal RFC 6455 client over a `TestConnection`, for tests: the opening
/// handshake, masked frames out, unmasked frames in.
public final class TestWebSocket: @unchecked Sendable {
    public struct Frame: Equatable, Sendable {
        public let opcode: UInt8
        public let payload: [UInt8]
        /// RSV1: permessage-deflate compressed the payload.
        public var compressed = false

        public init(opcode: UInt8, payload: [UInt8], compressed: Bool = false) {
            self.opcode = opcode
            self.payload = payload
            self.compressed = compressed
        }

        public var text: String { String(decoding: self.payload, as: UTF8.self) }

        /// The status code of a close frame.
        public var closeCode: UInt16? {
            guard self.opcode == 0x8, self.payload.count >= 2 else { return nil }
            return UInt16(self.payload[0]) << 8 | UInt16(self.payload[1])
        }
    }

    public let connection: TestConnection
    public let handshake: TestConnection.ResponseHead

    /// The handshake fields every test sends (`Sec-WebSocket-Key` is RFC 6455's example).
    public static let handshakeHeaders = [
        "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]

    /// Performs the handshake on `connection`; throws unless the answer is 101.
    public init(on connection: TestConnection, path: String, headers: [String] = []) async throws {
        self.connection = connection
        try await connection.sendRequest("GET", path, headers: Self.handshakeHeaders + headers)
        self.handshake = try await connection.readHead()
        guard self.handshake.status == 101 else {
            throw TestFailure("handshake answered \(self.handshake.status)")
        }
    }

    /// Sends one frame; client frames are masked unless `masked` is false.
    /// `reserved` is ORed into the first byte (RSV1 0x40, RSV2 0x20, RSV3 0x10).
    public func send(
        opcode: UInt8,
        _ payload: [UInt8],
        fin: Bool = true,
        masked: Bool = true,
        reserved: UInt8 = 0
    )
        async throws
    {
        try await self.connection.send(
            Self.frame(opcode: opcode, payload, fin: fin, masked: masked, reserved: reserved)
        )
    }

    /// The bytes of a client frame.
    public static func frame(
        opcode: UInt8,
        _ payload: [UInt8],
        fin: Bool = true,
        masked: Bool = true,
        reserved: UInt8 = 0
    ) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | reserved | opcode]
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        if masked {
            frame += mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            frame += payload
        }
        return frame
    }

    public func send(text: String) async throws {
        try await self.send(opcode: 0x1, Array(text.utf8))
    }

    /// The next frame from the server.
    public func read() async throws -> Frame {
        let header = try await self.connection.readBytes(2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let extended = try await self.connection.readBytes(2)
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            length = try await self.connection.readBytes(8).reduce(0) { $0 << 8 | Int($1) }
        }
        guard header[1] & 0x80 == 0 else { throw TestFailure("server frames must not be masked") }
        return Frame(
            opcode: header[0] & 0x0F,
            payload: try await self.connection.readBytes(length),
            compressed: header[0] & 0x40 != 0
        )
    }

    /// The next text frame's text, skipping pings.
    public func readText() async throws -> String {
        while true {
            let frame = try await self.read()
            if frame.opcode == 0x9 { continue }
            guard frame.opcode == 0x1 else {
                throw TestFailure("expected a text frame, got opcode \(frame.opcode) \(frame.text)")
            }
            return frame.text
        }
    }

    public func close() async { await self.connection.close() }
}
