import NIOCore

/// One published message: its channel, its sequence number and its payload.
///
/// `seq` counts from 1 per channel with no gaps. The payload is UTF-8 text in
/// a buffer of its own (never a slice pinning a larger read buffer), so it can
/// be retained in history and shared across event loops without copying.
public struct Message: Sendable {
    public let channel: ChannelName
    public let seq: UInt64
    public let payload: ByteBuffer
    /// When the message was published, on the monotonic clock (history expiry).
    public let publishedAt: NIODeadline

    public init(channel: ChannelName, seq: UInt64, payload: ByteBuffer, publishedAt: NIODeadline) {
        self.channel = channel
        self.seq = seq
        self.payload = payload
        self.publishedAt = publishedAt
    }
}
