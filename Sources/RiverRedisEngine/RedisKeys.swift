import RiverCore

/// The Redis names of a channel's keys and pub/sub channel (see `RedisScripts`).
struct RedisKeys: Sendable {
    static let prefix = "river:"
    static let channelIndex = "river:channels"
    static let statistics = "river:stats"

    let meta: String
    let history: String
    let pubSub: String

    init(_ channel: ChannelName) {
        self.pubSub = Self.prefix + "{" + channel.value + "}"
        self.meta = self.pubSub + ":meta"
        self.history = self.pubSub + ":history"
    }

    /// The channel a pub/sub channel name belongs to.
    static func channel(fromPubSub name: String) -> ChannelName? {
        guard name.hasPrefix(Self.prefix + "{"), name.hasSuffix("}") else { return nil }
        let inner = name.dropFirst(Self.prefix.count + 1).dropLast()
        return try? ChannelName(validating: String(inner), maxBytes: Int.max)
    }
}
