import NIOCore

/// One published message: its channel, its sequence number and its payload.
///
/// `seq` counts from 1 per channel with no gaps. The payload is in a buffer
/// of its own (never a slice pinning a larger read buffer), so it can be
/// retained in history and shared across event loops without copying. It is
/// UTF-8 text unless `isBinary` says it is arbitrary bytes (a binary
/// WebSocket frame, an `application/octet-stream` publish).
public struct Message: Sendable {
    public let channel: ChannelName
    public let seq: UInt64
    public let payload: ByteBuffer
    /// The payload is bytes, not text: delivered as a binary frame, or base64 where a format needs text.
    public let isBinary: Bool
    /// When the message was published, on the monotonic clock (history expiry).
    public let publishedAt: NIODeadline

    public init(
        channel: ChannelName,
        seq: UInt64,
        payload: ByteBuffer,
        isBinary: Bool = false,
        publishedAt: NIODeadline
    ) {
        self.channel = channel
        self.seq = seq
        self.payload = payload
        self.isBinary = isBinary
        self.publishedAt = publishedAt
    }
}
