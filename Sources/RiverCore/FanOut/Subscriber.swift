/// SEAM 2: one subscribed channel of a connection, as its event loop's hub
/// sees it.
///
/// Every transport (HTTP streaming, long-poll, JSONP, SSE, WebSocket)
/// subclasses it (`ChannelSubscription`) and overrides its three methods. A
/// subscriber lives on its connection's event loop and is only ever called
/// there. A class, not a protocol: the hub's member lists then hold plain
/// references, 8 bytes a member where a protocol's existential took 16, and
/// the hub's own fields sit in the object (docs/BENCHMARKS.md, "A connection
/// carrying 20 channels").
open class Subscriber {
    /// The seq of the last message it has written or accepted for writing
    /// (catch-up included): the hub only offers it messages after this.
    public final var deliveredSeq: UInt64 = 0
    private final var slot: Int32 = -1
    /// Whether it asked for presence events: the hub offers them to no other.
    public final let wantsPresence: Bool

    public init(wantsPresence: Bool) {
        self.wantsPresence = wantsPresence
    }

    /// Its position in the hub's list for its channel (-1: none); maintained by `LoopHub`.
    public final var hubSlot: Int {
        get { Int(self.slot) }
        set { self.slot = Int32(truncatingIfNeeded: newValue) }
    }

    /// Writes, in order, the messages offered (all newer than `deliveredSeq`),
    /// then flushes once. Returns what it wrote.
    open func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        preconditionFailure("\(type(of: self)) does not override deliver(_:)")
    }

    /// Ends the subscription from the server's side.
    open func finish(_ reason: FinishReason) {
        preconditionFailure("\(type(of: self)) does not override finish(_:)")
    }

    /// A user joined or left the channel (offered only when `wantsPresence`).
    open func presenceChanged(_ event: EncodedPresenceEvent) {
        preconditionFailure("\(type(of: self)) does not override presenceChanged(_:)")
    }
}

/// Why the server ends a subscription.
public enum FinishReason: Sendable, Equatable {
    /// `DELETE /channels/NAME`: the stream ends cleanly.
    case channelDeleted
    /// The channel's history was replaced under the stream (the Redis engine
    /// saw a new epoch: Redis restarted empty, or the channel expired): the
    /// stream ends cleanly, and the client resuming with its seq and epoch is
    /// told `reset`.
    case channelReset
    /// The server is shutting down: the stream ends cleanly.
    case shutdown
    /// `client_timeout` elapsed: the stream ends cleanly.
    case timeout
    /// Unsent output passed the subscriber's high-water mark: the connection is cut.
    case slowConsumer
    /// The application (`auth_url`) refused the subscription when asked again:
    /// the stream ends after a `revoked` notice (a WebSocket closes with 1008).
    case revoked
}

/// Messages and bytes one delivery wrote, for the statistics.
public struct DeliveryCount: Sendable {
    public var messages: Int
    public var bytes: Int

    public init(messages: Int = 0, bytes: Int = 0) {
        self.messages = messages
        self.bytes = bytes
    }

    public static let none = DeliveryCount()

    /// Adds what another delivery wrote.
    public mutating func add(_ other: DeliveryCount) {
        self.messages &+= other.messages
        self.bytes &+= other.bytes
    }
}
