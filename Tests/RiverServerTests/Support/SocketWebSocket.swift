/// A minimal RFC 6455 client over `SocketConnection`, for tests: the opening
/// handshake, masked frames out, unmasked frames in.
final class SocketWebSocket {
    struct Frame: Equatable {
        let opcode: UInt8
        let payload: [UInt8]
        /// RSV1: permessage-deflate compressed the payload.
        var compressed = false

        var text: String { String(decoding: self.payload, as: UTF8.self) }
        /// The status code of a close frame.
        var closeCode: UInt16? {
            guard self.opcode == 0x8, self.payload.count >= 2 else { return nil }
            return UInt16(self.payload[0]) << 8 | UInt16(self.payload[1])
        }
    }

    let connection: SocketConnection
    let handshake: SocketConnection.ResponseHead

    /// Connects and performs the handshake; throws unless the answer is 101.
    init(port: Int, path: String, headers: [String] = []) throws {
        self.connection = try SocketConnection(port: port)
        try self.connection.sendRequest(
            "GET",
            path,
            headers: [
                "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ] + headers
        )
        self.handshake = try self.connection.readHead()
        guard self.handshake.status == 101 else {
            throw SocketConnection.Failure(description: "handshake answered \(self.handshake.status)")
        }
    }

    /// Sends one frame; client frames are masked unless `masked` is false.
    /// `reserved` is ORed into the first byte (RSV1 0x40, RSV2 0x20, RSV3 0x10).
    func send(opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true, reserved: UInt8 = 0) throws {
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
        try self.connection.send(frame)
    }

    func send(text: String) throws {
        try self.send(opcode: 0x1, Array(text.utf8))
    }

    /// The next frame from the server.
    func read() throws -> Frame {
        let header = try self.connection.readBytes(2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let extended = try self.connection.readBytes(2)
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            length = try self.connection.readBytes(8).reduce(0) { $0 << 8 | Int($1) }
        }
        guard header[1] & 0x80 == 0 else {
            throw SocketConnection.Failure(description: "server frames must not be masked")
        }
        return Frame(
            opcode: header[0] & 0x0F,
            payload: try self.connection.readBytes(length),
            compressed: header[0] & 0x40 != 0
        )
    }

    /// The next text frame's text, skipping pings.
    func readText() throws -> String {
        while true {
            let frame = try self.read()
            if frame.opcode == 0x9 { continue }
            guard frame.opcode == 0x1 else {
                throw SocketConnection.Failure(
                    description: "expected a text frame, got opcode \(frame.opcode) \(frame.text)"
                )
            }
            return frame.text
        }
    }
}

extension SocketConnection {
    /// Exactly `count` bytes.
    func readBytes(_ count: Int) throws -> [UInt8] {
        try self.readExactlyForTests(count)
    }
}
