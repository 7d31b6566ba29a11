import NIOCore

/// How much history an engine keeps and how long idle channels live.
public struct HistoryLimits: Sendable, Equatable {
    /// Messages retained per channel.
    public var size: Int
    /// How long a message is retained.
    public var ttl: TimeAmount
    /// Total bytes of retained history across all channels (oldest go first).
    public var maxMemory: Int
    /// How long a channel with no subscribers and no history is remembered.
    public var channelIdleTTL: TimeAmount

    public init(
        size: Int = 100,
        ttl: TimeAmount = .seconds(3600),
        maxMemory: Int = 256 << 20,
        channelIdleTTL: TimeAmount = .seconds(60)
    ) {
        self.size = size
        self.ttl = ttl
        self.maxMemory = maxMemory
        self.channelIdleTTL = channelIdleTTL
    }

    /// The bytes a retained message is charged: its payload plus bookkeeping.
    public static func chargedBytes(payload: Int) -> Int { payload + 96 }
}
