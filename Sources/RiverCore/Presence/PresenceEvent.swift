import NIOCore

/// A user's first subscription to a channel started (`join`), or its last
/// ended and `presence_leave_delay` passed (`leave`). Delivered like
/// messages, through each loop's hub, to the subscriptions that asked for
/// presence — never to the user's own.
public struct PresenceEvent: Sendable {
    public enum Kind: String, Sendable {
        case join
        case leave
    }

    public let kind: Kind
    public let channel: ChannelName
    public let member: PresenceMember

    public init(_ kind: Kind, channel: ChannelName, member: PresenceMember) {
        self.kind = kind
        self.channel = channel
        self.member = member
    }

    /// `["join", {"channel": C, "user": U, "info": {...}}]`
    public func writeJSON(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("[\"")
        buffer.writeString(self.kind.rawValue)
        buffer.writeStaticString("\", ")
        self.writeBody(into: &buffer)
        buffer.writeStaticString("]")
    }

    /// The object part, `{"channel": C, "user": U, ...}` (a single-channel SSE event's data).
    public func writeBody(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("{\"channel\": ")
        JSONString.write(self.channel.value, into: &buffer)
        buffer.writeStaticString(", ")
        self.member.writeFields(into: &buffer)
        buffer.writeStaticString("}")
    }
}

/// A presence event with its JSON built once per loop and shared by every
/// subscriber the hub hands it to. Confined to one event loop.
public final class EncodedPresenceEvent {
    public let event: PresenceEvent
    private var json: ByteBuffer?
    private var body: ByteBuffer?

    public init(_ event: PresenceEvent) {
        self.event = event
    }

    /// `["join", {...}]`
    public var riverJSON: ByteBuffer {
        if let json { return json }
        var buffer = ByteBuffer()
        self.event.writeJSON(into: &buffer)
        self.json = buffer
        return buffer
    }

    /// `{...}`, the object alone.
    public var objectJSON: ByteBuffer {
        if let body { return body }
        var buffer = ByteBuffer()
        self.event.writeBody(into: &buffer)
        self.body = buffer
        return buffer
    }
}

@available(*, unavailable)
extension EncodedPresenceEvent: Sendable {}
