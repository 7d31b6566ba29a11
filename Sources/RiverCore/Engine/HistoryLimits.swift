import NIOCore

/// How much history an engine keeps, how many channels it holds and how long
/// idle channels live.
public struct HistoryLimits: Sendable, Equatable {
    /// Messages retained per channel.
    public var size: Int
    /// How long a message is retained.
    public var ttl: TimeAmount
    /// Total bytes of retained history and channel records across all
    /// channels (the oldest messages, then idle channels, go first).
    public var maxMemory: Int
    /// The most channels held at once (nil: as many as half of `maxMemory`
    /// holds, `maxMemory / (2 × channelRecordBytes)`, so records leave room for history).
    public var maxChannels: Int?
    /// How long a channel with no subscribers and no history is remembered.
    public var channelIdleTTL: TimeAmount

    public init(
        size: Int = 100,
        ttl: TimeAmount = .seconds(3600),
        maxMemory: Int = 256 << 20,
        maxChannels: Int? = nil,
        channelIdleTTL: TimeAmount = .seconds(60)
    ) {
        self.size = size
        self.ttl = ttl
        self.maxMemory = maxMemory
        self.maxChannels = maxChannels
        self.channelIdleTTL = channelIdleTTL
    }

    /// The channel limit in force: `maxChannels`, or as many channel records
    /// as half of `maxMemory` holds (at least one): 1 KiB of `max_memory` per channel.
    public var channelLimit: Int { self.maxChannels ?? max(self.maxMemory / (2 * Self.channelRecordBytes), 1) }

    /// The bytes a retained message is charged: its payload plus bookkeeping.
    public static func chargedBytes(payload: Int) -> Int { payload + 96 }

    /// What a channel's record costs before its name: its state object, its
    /// slot in the channel table and its queue entries (measured: about 400
    /// bytes on 64-bit Linux; charged with headroom).
    public static let channelRecordBytes = 512

    /// The bytes a channel record is charged against `maxMemory`.
    public static func chargedBytes(channelName nameBytes: Int) -> Int { Self.channelRecordBytes + nameBytes }
}
