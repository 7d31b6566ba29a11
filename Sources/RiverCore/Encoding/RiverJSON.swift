import NIOCore

/// The river wire JSON, byte for byte as the original server wrote it
/// (spaces included), with RFC 8259 escaping:
///
///     ["msg", {"channel": "NAME", "seq": 17, "data": "DATA"}]
///
/// A binary message (`Message.isBinary`) carries its bytes in base64, and
/// says so, so the JSON stays valid whatever the bytes:
///
///     ["msg", {"channel": "NAME", "seq": 17, "data": "BASE64", "encoding": "base64"}]
///
/// and River's notices, which the original's clients ignore:
///
///     ["lost", {"channel": "NAME", "from": A, "to": B}]
///     ["reset", {"channel": "NAME", "seq": CURRENT, "epoch": E}]
///     ["live", {"channel": "NAME", "seq": START, "epoch": E}]
public enum RiverJSON {
    /// Bytes a message's JSON needs beyond its escaped channel and payload.
    static let messageOverhead = 48

    public static func writeMessage(_ message: Message, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[\"msg\", {\"channel\": ")
        JSONString.write(message.channel.value, into: &buffer)
        buffer.writeStaticString(", \"seq\": ")
        buffer.writeDecimal(message.seq)
        buffer.writeStaticString(", \"data\": ")
        if message.isBinary {
            buffer.writeStaticString("\"")
            Base64.write(message.payload, into: &buffer)
            buffer.writeStaticString("\", \"encoding\": \"base64\"}]")
        } else {
            JSONString.write(message.payload, into: &buffer)
            buffer.writeStaticString("}]")
        }
    }

    /// The notice's type: `lost`, `reset` or `live`.
    public static func type(of notice: CatchUp.Notice) -> StaticString {
        switch notice {
        case .lost: return "lost"
        case .reset: return "reset"
        case .live: return "live"
        }
    }

    public static func writeNotice(_ notice: CatchUp.Notice, channel: ChannelName, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[\"")
        buffer.writeStaticString(Self.type(of: notice))
        buffer.writeStaticString("\", ")
        self.writeNoticeBody(notice, channel: channel, into: &buffer)
        buffer.writeStaticString("]")
    }

    /// The object part of a notice, `{"channel": ..., ...}` (SSE sends it as the event's data).
    public static func writeNoticeBody(_ notice: CatchUp.Notice, channel: ChannelName, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"channel\": ")
        JSONString.write(channel.value, into: &buffer)
        switch notice {
        case .lost(let from, let to):
            buffer.writeStaticString(", \"from\": ")
            buffer.writeDecimal(from)
            buffer.writeStaticString(", \"to\": ")
            buffer.writeDecimal(to)
        case .reset(let seq, let epoch), .live(let seq, let epoch):
            buffer.writeStaticString(", \"seq\": ")
            buffer.writeDecimal(seq)
            buffer.writeStaticString(", \"epoch\": ")
            buffer.writeDecimal(epoch)
        }
        buffer.writeStaticString("}")
    }
}
