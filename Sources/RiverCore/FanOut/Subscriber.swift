/// SEAM 2: one subscribed connection, as its event loop's hub sees it.
///
/// Every transport (HTTP streaming, long-poll, JSONP, SSE, WebSocket)
/// conforms. A subscriber lives on its connection's event loop and is only
/// ever called there.
public protocol Subscriber: AnyObject {
    /// Its position in the hub's list for its channel; maintained by `LoopHub`.
    var hubSlot: Int { get set }

    /// The seq of the last message it has written (catch-up included): the
    /// hub only offers it messages after this.
    var deliveredSeq: UInt64 { get }

    /// Writes, in order, the messages offered (all newer than `deliveredSeq`),
    /// then flushes once. Returns what it wrote.
    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount

    /// Ends the subscription from the server's side.
    func finish(_ reason: FinishReason)

    /// A user joined or left the channel; the subscriber writes it if it asked for presence.
    func presenceChanged(_ event: EncodedPresenceEvent)
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
