import NIOCore

/// A message together with its wire encodings, each built on first use and
/// then shared: the JSON escaping and framing happen once per message (per
/// event loop), never once per subscriber.
///
/// Confined to one event loop (the lazy caches are not synchronised).
public final class EncodedMessage {
    public let message: Message
    private let allocator: ByteBufferAllocator
    /// `HEX CRLF json CRLF`; the `.json` and `.line` formats are slices of it.
    private var chunk: ByteBuffer?
    private var jsonLength = 0
    private var eventStream: ByteBuffer?
    private var webSocketText: ByteBuffer?

    public init(_ message: Message, allocator: ByteBufferAllocator) {
        self.message = message
        self.allocator = allocator
    }

    public var seq: UInt64 { self.message.seq }

    /// The message's bytes in `format`. Slices share storage: no copy is made.
    public func bytes(_ format: WireFormat) -> ByteBuffer {
        switch format {
        case .chunk:
            return self.chunkBytes()
        case .json:
            let chunk = self.chunkBytes()
            let headerLength = chunk.readableBytes - self.jsonLength - 2
            return chunk.getSlice(at: chunk.readerIndex + headerLength, length: self.jsonLength)!
        case .line:
            let chunk = self.chunkBytes()
            let headerLength = chunk.readableBytes - self.jsonLength - 2
            return chunk.getSlice(at: chunk.readerIndex + headerLength, length: self.jsonLength + 2)!
        case .eventStream:
            if let eventStream { return eventStream }
            var buffer = self.allocator.buffer(capacity: self.message.payload.readableBytes + 32)
            EventStreamFraming.writeEvent(id: self.message.seq, event: nil, data: self.message.payload, into: &buffer)
            self.eventStream = buffer
            return buffer
        case .webSocketText:
            if let webSocketText { return webSocketText }
            let frame = WebSocketFraming.frame(opcode: .text, payload: self.bytes(.json), allocator: self.allocator)
            self.webSocketText = frame
            return frame
        }
    }

    private func chunkBytes() -> ByteBuffer {
        if let chunk { return chunk }
        let message = self.message
        let estimate = RiverJSON.messageOverhead + message.channel.value.utf8.count + message.payload.readableBytes
        let chunk = ChunkFraming.makeChunk(capacity: estimate, allocator: self.allocator) { buffer in
            let start = buffer.writerIndex
            RiverJSON.writeMessage(message, into: &buffer)
            self.jsonLength = buffer.writerIndex - start
        }
        self.chunk = chunk
        return chunk
    }
}

@available(*, unavailable)
extension EncodedMessage: Sendable {}
