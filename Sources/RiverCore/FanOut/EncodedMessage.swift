import NIOCore

/// A message together with its wire encodings, each built on first use and
/// then shared: the JSON escaping, framing and compression happen once per
/// message (per event loop), never once per subscriber.
///
/// Confined to one event loop (the lazy caches are not synchronised).
public final class EncodedMessage {
    public let message: Message
    private let allocator: ByteBufferAllocator
    /// The loop's compressor, for the permessage-deflate formats.
    private let deflater: PerMessageDeflater
    /// `HEX CRLF json CRLF`; the `.json` and `.line` formats are slices of it.
    private var chunk: ByteBuffer?
    private var jsonLength = 0
    private var eventStream: ByteBuffer?
    private var eventStreamJSON: ByteBuffer?
    private var webSocketText: ByteBuffer?
    private var rawChunk: ByteBuffer?
    private var webSocketRaw: ByteBuffer?
    /// Compressed frames, one per (format, window) asked for; usually none or one.
    private var deflated: [(format: WireFormat, bytes: ByteBuffer)] = []

    public init(_ message: Message, allocator: ByteBufferAllocator, deflater: PerMessageDeflater) {
        self.message = message
        self.allocator = allocator
        self.deflater = deflater
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
            let buffer = self.makeEventStream()
            self.eventStream = buffer
            return buffer
        case .eventStreamJSON:
            if let eventStreamJSON { return eventStreamJSON }
            let json = self.bytes(.json)
            var buffer = self.allocator.buffer(capacity: json.readableBytes + 8)
            buffer.writeStaticString("data: ")
            buffer.writeImmutableBuffer(json)
            buffer.writeStaticString("\n\n")
            self.eventStreamJSON = buffer
            return buffer
        case .webSocketText:
            if let webSocketText { return webSocketText }
            let frame = WebSocketFraming.frame(opcode: .text, payload: self.bytes(.json), allocator: self.allocator)
            self.webSocketText = frame
            return frame
        case .rawChunk:
            if let rawChunk { return rawChunk }
            let payload = self.message.payload
            let chunk = ChunkFraming.makeChunk(capacity: payload.readableBytes, allocator: self.allocator) {
                $0.writeImmutableBuffer(payload)
            }
            self.rawChunk = chunk
            return chunk
        case .webSocketRaw:
            if let webSocketRaw { return webSocketRaw }
            let frame = WebSocketFraming.frame(
                opcode: self.message.isBinary ? .binary : .text,
                payload: self.message.payload,
                allocator: self.allocator
            )
            self.webSocketRaw = frame
            return frame
        case .webSocketDeflated(let raw, let windowBits):
            if let cached = self.deflated.first(where: { $0.format == format }) { return cached.bytes }
            let frame = self.deflater.frame(
                opcode: raw && self.message.isBinary ? .binary : .text,
                payload: raw ? self.message.payload : self.bytes(.json),
                windowBits: windowBits,
                allocator: self.allocator
            )
            self.deflated.append((format, frame))
            return frame
        }
    }

    private func chunkBytes() -> ByteBuffer {
        if let chunk { return chunk }
        let message = self.message
        var estimate = RiverJSON.messageOverhead + message.channel.value.utf8.count + message.payload.readableBytes
        if message.isBinary { estimate += Base64.encodedLength(message.payload.readableBytes) }
        let chunk = ChunkFraming.makeChunk(capacity: estimate, allocator: self.allocator) { buffer in
            let start = buffer.writerIndex
            RiverJSON.writeMessage(message, into: &buffer)
            self.jsonLength = buffer.writerIndex - start
        }
        self.chunk = chunk
        return chunk
    }

    /// `id:` and `data:` lines; a binary message is `event: binary` with its base64 as data.
    private func makeEventStream() -> ByteBuffer {
        let payload = self.message.payload
        guard self.message.isBinary else {
            var buffer = self.allocator.buffer(capacity: payload.readableBytes + 32)
            EventStreamFraming.writeEvent(id: self.message.seq, event: nil, data: payload, into: &buffer)
            return buffer
        }
        var base64 = self.allocator.buffer(capacity: Base64.encodedLength(payload.readableBytes))
        Base64.write(payload, into: &base64)
        var buffer = self.allocator.buffer(capacity: base64.readableBytes + 48)
        EventStreamFraming.writeEvent(id: self.message.seq, event: "binary", data: base64, into: &buffer)
        return buffer
    }
}

@available(*, unavailable)
extension EncodedMessage: Sendable {}
