/// Messages bound for one event loop's hub, grouped by channel, in publish
/// order: what crosses from a channel's owner to a loop in one hop.
public struct DeliveryBatch: Sendable {
    public struct Entry: Sendable {
        public let channel: ChannelName
        public var messages: [Message]
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var isEmpty: Bool { self.entries.isEmpty }

    /// Appends a message, extending the last entry when it is for the same channel.
    public mutating func append(_ message: Message) {
        if let last = self.entries.indices.last, self.entries[last].channel == message.channel {
            self.entries[last].messages.append(message)
        } else {
            self.entries.append(Entry(channel: message.channel, messages: [message]))
        }
    }
}
