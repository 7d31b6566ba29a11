import NIOCore

/// What a `river.v2` frame from the server is (PROTOCOL.md C2), told from its
/// first bytes: `["ok", …`, `["msg", …`, `["error", …`, `["join", …`,
/// `["leave", …`, or anything else (`lost`, `reset`, `revoked`).
enum CommandFrame: Equatable {
    case ok
    case message
    case error
    case join
    case leave
    case other

    /// Enough of a frame to tell which it is.
    static let prefix = 4

    init(_ payload: UnsafeRawBufferPointer) {
        guard payload.count >= 4, payload[0] == UInt8(ascii: "["), payload[1] == UInt8(ascii: "\"") else {
            self = .other
            return
        }
        switch (payload[2], payload[3]) {
        case (UInt8(ascii: "o"), UInt8(ascii: "k")): self = .ok
        case (UInt8(ascii: "m"), UInt8(ascii: "s")): self = .message
        case (UInt8(ascii: "e"), UInt8(ascii: "r")): self = .error
        case (UInt8(ascii: "j"), UInt8(ascii: "o")): self = .join
        case (UInt8(ascii: "l"), UInt8(ascii: "e")): self = .leave
        default: self = .other
        }
    }

    /// A client command as a masked text frame; `fields` are added to `id`
    /// and `channel` as they are (`, "presence": true`).
    static func command(_ type: String, id: Int, channel: String, fields: String = "") -> ByteBuffer {
        let json = "[\"\(type)\", {\"id\": \(id), \"channel\": \(Self.jsonString(channel))\(fields)}]"
        return WebSocketEchoHandler.maskedTextFrame(Array(json.utf8))
    }

    /// `text` as a JSON string (bench names are ASCII; quotes and backslashes escaped).
    static func jsonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
