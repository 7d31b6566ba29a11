import NIOCore
import RiverCore

/// The Redis names River uses (see `RedisScripts` for what each holds). A
/// channel NAME's keys are `river:{NAME}:meta` and `river:{NAME}:history`,
/// its pub/sub channel `river:{NAME}`; all live on the channel's shard.
enum RedisKeys {
    static let prefix: StaticString = "river:"
    static let metaSuffix: StaticString = ":meta"
    static let historySuffix: StaticString = ":history"
    static let pubSubSuffix: StaticString = ""
    static let presenceSuffix: StaticString = ":presence"
    /// Per shard: a sorted set of the shard's channel names (the listing).
    static let channelIndex = "river:channels"
    /// Per shard: a hash of counters (`published`).
    static let statistics = "river:stats"
    /// Per shard: the presence nodes, scored by when their heartbeat expires (`PresenceScripts`).
    static let presenceNodes = "river:presence:nodes"

    /// Per shard: the channels where presence node `node` holds a share.
    static func presenceChannels(of node: String) -> String { "river:presence:node:" + node }

    static func meta(_ channel: ChannelName) -> RESPCommand.Argument { .key(channel, suffix: Self.metaSuffix) }
    static func history(_ channel: ChannelName) -> RESPCommand.Argument { .key(channel, suffix: Self.historySuffix) }
    static func pubSub(_ channel: ChannelName) -> RESPCommand.Argument { .key(channel, suffix: Self.pubSubSuffix) }
    static func presence(_ channel: ChannelName) -> RESPCommand.Argument { .key(channel, suffix: Self.presenceSuffix) }

    /// The channel a pub/sub channel name (`river:{NAME}`) belongs to, read from its bytes.
    static func channel(fromPubSub name: ByteBuffer) -> ChannelName? {
        let bytes = name.readableBytesView
        let prefixLength = Self.prefix.utf8CodeUnitCount
        guard bytes.count > prefixLength + 2, bytes.last == UInt8(ascii: "}") else { return nil }
        let prefix = UnsafeBufferPointer(start: Self.prefix.utf8Start, count: prefixLength)
        guard bytes.prefix(prefixLength).elementsEqual(prefix),
            bytes[bytes.startIndex + prefixLength] == UInt8(ascii: "{")
        else { return nil }
        let inner = bytes[(bytes.startIndex + prefixLength + 1)..<(bytes.endIndex - 1)]
        return try? ChannelName(validating: inner, maxBytes: Int.max)
    }
}
