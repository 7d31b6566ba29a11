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

    /// The channel a pub/sub channel name belongs to, read byte for byte (a
    /// name may begin with a combining mark, which `String` would join to `{`).
    static func channel(fromPubSub name: String) -> ChannelName? {
        let bytes = Array(name.utf8)
        let opening = Array((Self.prefix + "{").utf8)
        guard bytes.count > opening.count + 1, bytes.starts(with: opening), bytes.last == UInt8(ascii: "}") else {
            return nil
        }
        return try? ChannelName(validating: bytes[opening.count..<(bytes.count - 1)], maxBytes: Int.max)
    }
}
