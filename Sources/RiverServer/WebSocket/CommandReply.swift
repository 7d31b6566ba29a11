import NIOCore
import RiverCore

/// What a `river.v2` connection answers a command with (PROTOCOL.md C2), as
/// the JSON of one text frame:
///
///     ["ok",    {"id": 1, "channel": "a", "seq": 5, "epoch": 7}]
///     ["error", {"id": 1, "status": 403, "reason": "one line"}]
///     ["revoked", {"channel": "a", "reason": "one line"}]
enum CommandReply {
    /// `["ok", {"id": ID, "channel": C, NAME: N, ...}]`
    static func ok(id: Int64, channel: ChannelName, _ numbers: [(StaticString, UInt64)] = []) -> ByteBuffer {
        var json = Self.open("ok", id: id)
        json.writeStaticString(", \"channel\": ")
        JSONString.write(channel.value, into: &json)
        for (name, value) in numbers {
            json.writeStaticString(", \"")
            json.writeStaticString(name)
            json.writeStaticString("\": ")
            json.writeDecimal(value)
        }
        json.writeStaticString("}]")
        return json
    }

    /// `["ok", {"id": ID, "channel": C, "connections": N, "users": U, "members": [...]}]`
    static func ok(id: Int64, presence: PresenceSnapshot) -> ByteBuffer {
        var json = ByteBuffer()
        json.writeStaticString("[\"ok\", ")
        presence.writeJSON(into: &json, prefix: "\"id\": \(id), ")
        json.writeStaticString("]")
        return json
    }

    /// `["error", {"id": ID or null, "status": S, "reason": R}]`
    static func error(id: Int64?, status: Int, reason: String) -> ByteBuffer {
        var json = Self.open("error", id: id)
        json.writeStaticString(", \"status\": ")
        json.writeDecimal(UInt64(status))
        json.writeStaticString(", \"reason\": ")
        JSONString.write(String(reason.prefix(200)), into: &json)
        json.writeStaticString("}]")
        return json
    }

    /// `["revoked", {"channel": C, "reason": R}]`: the server ended that channel alone.
    static func revoked(channel: ChannelName, reason: String) -> ByteBuffer {
        var json = ByteBuffer()
        json.writeStaticString("[\"revoked\", ")
        Self.writeRevokedObject(channel: channel, reason: reason, into: &json)
        json.writeStaticString("]")
        return json
    }

    /// `{"channel": C, "reason": R}`: the object of a `revoked` notice (an SSE event's data).
    static func writeRevokedObject(channel: ChannelName, reason: String, into json: inout ByteBuffer) {
        json.writeStaticString("{\"channel\": ")
        JSONString.write(channel.value, into: &json)
        json.writeStaticString(", \"reason\": ")
        JSONString.write(reason, into: &json)
        json.writeStaticString("}")
    }

    private static func open(_ type: StaticString, id: Int64?) -> ByteBuffer {
        var json = ByteBuffer()
        json.writeStaticString("[\"")
        json.writeStaticString(type)
        json.writeStaticString("\", {\"id\": ")
        if let id { json.writeString(String(id)) } else { json.writeStaticString("null") }
        return json
    }
}
