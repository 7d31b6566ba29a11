import NIOCore

/// Who is on a channel now (`GET /presence`, the `river.v2` `presence` command).
public struct PresenceSnapshot: Sendable {
    public struct Entry: Sendable {
        public let member: PresenceMember
        /// The member's subscriptions to the channel (0 while its leave waits out the delay).
        public var connections: Int

        public init(member: PresenceMember, connections: Int) {
            self.member = member
            self.connections = connections
        }
    }

    public var channel: ChannelName
    /// Subscriptions to the channel, watchers and anonymous ones included.
    public var connections = 0
    /// Distinct users, also when `members` is truncated.
    public var users = 0
    /// Members ordered by user, at most the limit asked for.
    public var members: [Entry] = []
    /// More members than the limit.
    public var truncated = false

    public init(channel: ChannelName) {
        self.channel = channel
    }

    /// `{"channel": C, "connections": N, "users": U, "members": [...]}` (and `"truncated": true`);
    /// `prefix` comes first inside the object (the `river.v2` reply's `"id": N, `).
    public func writeJSON(into buffer: inout ByteBuffer, prefix: String = "") {
        buffer.writeStaticString("{")
        buffer.writeString(prefix)
        buffer.writeStaticString("\"channel\": ")
        JSONString.write(self.channel.value, into: &buffer)
        buffer.writeStaticString(", \"connections\": ")
        buffer.writeDecimal(UInt64(self.connections))
        buffer.writeStaticString(", \"users\": ")
        buffer.writeDecimal(UInt64(self.users))
        buffer.writeStaticString(", \"members\": [")
        for (index, entry) in self.members.enumerated() {
            if index > 0 { buffer.writeStaticString(", ") }
            buffer.writeStaticString("{")
            entry.member.writeFields(into: &buffer)
            buffer.writeStaticString(", \"connections\": ")
            buffer.writeDecimal(UInt64(entry.connections))
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]")
        if self.truncated { buffer.writeStaticString(", \"truncated\": true") }
        buffer.writeStaticString("}")
    }
}
