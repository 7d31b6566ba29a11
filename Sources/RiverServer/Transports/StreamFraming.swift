import NIOCore
import NIOWebSocket
import RiverCore

/// How a stream frames what it carries: the river JSON as HTTP chunks (or
/// lines, for HTTP/1.0), optionally JSONP-wrapped; raw bodies as HTTP
/// chunks; Server-Sent Events; or WebSocket frames. The subscription's
/// lifecycle (`StreamSubscriber`) does not depend on it.
enum StreamFraming {
    /// `/subscribe`: one river JSON document per chunk (per line when `chunked` is
    /// false), wrapped as `callback(...);` CRLF when `callback` is set.
    case river(chunked: Bool, callback: String?)
    /// `/subscribe?format=raw`: each message's body as published, one chunk
    /// per message (unframed when `chunked` is false, for HTTP/1.0). A
    /// long-poll's answer is one message. Notices are chunks marked with the
    /// chunk extension `;river-notice`, so a client reading the chunk framing
    /// tells them from bodies.
    case raw(chunked: Bool)
    /// `/sse`: one event per message (`id:` = seq), notices as `event: lost|reset|live`.
    case eventStream
    /// `/sse` with several channels: one event per message, its river JSON as
    /// `data:` and the subscription's cursor after it as `id:`; notices as
    /// `event: lost|reset|live` with their river JSON array, no `id:`. The
    /// cursor's line is kept written by the stream's `CursorLine`.
    case eventStreamOfChannels(CursorLine)
    /// `/websocket`: one frame per message, in its `WebSocketFormat`.
    case webSocket(WebSocketFormat)

    /// What a WebSocket subscriber's frames carry, and whether they are compressed.
    struct WebSocketFormat: Equatable {
        /// Message bodies as published (text or binary frames) instead of river JSON text frames.
        var raw = false
        /// The permessage-deflate window when negotiated (nil: uncompressed);
        /// a byte, to keep every `StreamSubscriber` small.
        var deflateWindowBits: UInt8?

        /// The shared encoding this subscriber writes.
        var wireFormat: WireFormat {
            if let windowBits = self.deflateWindowBits {
                return .webSocketDeflated(raw: self.raw, windowBits: Int(windowBits))
            }
            return self.raw ? .webSocketRaw : .webSocketText
        }
    }

    /// The transport's name in `/stats` and the dashboard (a long-poll is named by its subscriber).
    var transportName: String {
        switch self {
        case .river(_, nil), .raw: return "stream"
        case .river: return "jsonp"
        case .eventStream, .eventStreamOfChannels: return "sse"
        case .webSocket: return "websocket"
        }
    }

    /// The response's content type (HTTP transports).
    var contentType: String {
        switch self {
        case .river(_, nil): return "text/plain; charset=utf-8"
        case .river: return "application/javascript; charset=utf-8"
        case .raw: return "application/octet-stream"
        case .eventStream, .eventStreamOfChannels: return "text/event-stream; charset=utf-8"
        case .webSocket: return "application/octet-stream"
        }
    }

    /// Chunked responses end with the last chunk; the others end when the connection closes.
    var isChunked: Bool {
        switch self {
        case .river(let chunked, _), .raw(let chunked): return chunked
        case .eventStream, .eventStreamOfChannels, .webSocket: return false
        }
    }

    /// What is written when nothing else was for `heartbeat`; river JSON has
    /// nothing harmless to send (its clients parse every chunk).
    var heartbeat: ByteBuffer? {
        switch self {
        case .eventStream, .eventStreamOfChannels: return EventStreamFraming.heartbeat
        case .webSocket: return Self.ping
        case .river, .raw: return nil
        }
    }

    /// Whether a long-poll's answer is a single message: a raw body has no
    /// framing that could tell two apart.
    var answersWithOneMessage: Bool {
        if case .raw = self { return true }
        return false
    }

    private static let ping = WebSocketFraming.frame(opcode: .ping, payload: ByteBuffer(), allocator: .init())

    /// Writes one message; returns the bytes written.
    func write(_ message: EncodedMessage, to output: StreamOutput) -> Int {
        let bytes: ByteBuffer
        switch self {
        case .river(let chunked, nil):
            bytes = message.bytes(chunked ? .chunk : .line)
        case .river(let chunked, let callback?):
            return Self.writeJSONP(message.bytes(.json), callback: callback, chunked: chunked, to: output)
        case .raw(true):
            // A zero-length chunk would end the response: an empty body sends nothing.
            guard message.message.payload.readableBytes > 0 else { return 0 }
            bytes = message.bytes(.rawChunk)
        case .raw(false):
            bytes = message.message.payload
        case .eventStream:
            bytes = message.bytes(.eventStream)
        case .eventStreamOfChannels:
            preconditionFailure("a multi-channel event stream writes with its cursor")
        case .webSocket(let format):
            bytes = message.bytes(format.wireFormat)
        }
        output.write(bytes)
        return bytes.readableBytes
    }

    /// Writes one message of a multi-channel event stream: its `id: CURSOR`
    /// line (the subscription's own bytes), then the message's shared `data:` line.
    func write(_ message: EncodedMessage, idLine id: ByteBuffer, to output: StreamOutput) -> Int {
        let data = message.bytes(.eventStreamJSON)
        output.write(id)
        output.write(data)
        return id.readableBytes + data.readableBytes
    }

    /// Writes a `lost`, `reset` or `live` notice.
    func write(_ notice: CatchUp.Notice, channel: ChannelName, to output: StreamOutput) {
        output.write(self.framed(notice, channel: channel, allocator: output.allocator))
    }

    /// A `lost`, `reset` or `live` notice, framed. On a single-channel event
    /// stream each moves the event id to where the stream now stands, so an
    /// EventSource reconnecting on its own resumes from there: past what is
    /// lost, from 0 after a reset (the replay follows), at a live start.
    func framed(_ notice: CatchUp.Notice, channel: ChannelName, allocator: ByteBufferAllocator) -> ByteBuffer {
        var json = allocator.buffer(capacity: 96)
        RiverJSON.writeNotice(notice, channel: channel, into: &json)
        let id: UInt64
        switch notice {
        case .lost(_, let to): id = to
        case .reset: id = 0
        case .live(let seq, _): id = seq
        }
        return self.framedNotice(
            json,
            object: {
                var object = allocator.buffer(capacity: 96)
                RiverJSON.writeNoticeBody(notice, channel: channel, into: &object)
                return object
            },
            event: RiverJSON.type(of: notice),
            eventStreamID: id,
            allocator: allocator
        )
    }

    /// A join or leave, framed like the other notices (no event id: a stream's position does not move).
    func framed(_ event: EncodedPresenceEvent, allocator: ByteBufferAllocator) -> ByteBuffer {
        self.framedNotice(
            event.riverJSON,
            object: { event.objectJSON },
            event: event.event.kind == .join ? "join" : "leave",
            eventStreamID: nil,
            allocator: allocator
        )
    }

    /// A notice whose river JSON array is `json`: a chunk (or line) as a
    /// message is, JSONP-wrapped where messages are; a `;river-notice` chunk
    /// in raw streams; a named SSE event whose data is the notice's object
    /// (one channel, with `eventStreamID`) or its array (several channels, no
    /// id); a WebSocket text frame.
    func framedNotice(
        _ json: ByteBuffer,
        object: () -> ByteBuffer,
        event: StaticString,
        eventStreamID: UInt64?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var framed = allocator.buffer(capacity: json.readableBytes + 40)
        switch self {
        case .river(let chunked, let callback?):
            Self.writeJSONPPrefix(callback: callback, jsonBytes: json.readableBytes, chunked: chunked, to: &framed)
            framed.writeImmutableBuffer(json)
            framed.writeImmutableBuffer(chunked ? Self.jsonpChunkSuffix : Self.jsonpLineSuffix)
        case .river(let chunked, nil):
            if chunked {
                return ChunkFraming.makeChunk(capacity: json.readableBytes, allocator: allocator) {
                    $0.writeImmutableBuffer(json)
                }
            }
            framed.writeImmutableBuffer(json)
            framed.writeStaticString("\r\n")
        case .raw(let chunked):
            if chunked {
                framed.writeString(String(json.readableBytes, radix: 16, uppercase: true))
                framed.writeStaticString(";river-notice\r\n")
            }
            framed.writeImmutableBuffer(json)
            framed.writeStaticString("\r\n")
        case .eventStream:
            EventStreamFraming.writeEvent(id: eventStreamID, event: event, data: object(), into: &framed)
        case .eventStreamOfChannels:
            EventStreamFraming.writeEvent(id: nil, event: event, data: json, into: &framed)
        case .webSocket:
            return WebSocketFraming.frame(opcode: .text, payload: json, allocator: allocator)
        }
        return framed
    }

    /// Writes what ends the stream for `reason` (nil: it is complete, as a
    /// long-poll after its messages): the last chunk, or a close frame.
    /// Returns whether the connection may carry another request afterwards.
    func writeEnd(_ reason: FinishReason?, to output: StreamOutput) -> Bool {
        switch self {
        case .river(true, _), .raw(true):
            output.write(ChunkFraming.terminator)
            return true
        case .river(false, _), .raw(false), .eventStream, .eventStreamOfChannels:
            return false
        case .webSocket:
            let (code, text) = WebSocketClose.status(for: reason)
            output.write(WebSocketFraming.closeFrame(code: code, reason: text, allocator: output.allocator))
            return false
        }
    }

    private static let jsonpChunkSuffix = ByteBuffer(string: ");\r\n\r\n")
    private static let jsonpLineSuffix = ByteBuffer(string: ");\r\n")

    /// `callback(JSON);` CRLF: the JSON is shared, only the small prefix is this subscriber's.
    private static func writeJSONP(
        _ json: ByteBuffer,
        callback: String,
        chunked: Bool,
        to output: StreamOutput
    ) -> Int {
        var prefix = output.allocator.buffer(capacity: callback.utf8.count + 12)
        Self.writeJSONPPrefix(callback: callback, jsonBytes: json.readableBytes, chunked: chunked, to: &prefix)
        let suffix = chunked ? Self.jsonpChunkSuffix : Self.jsonpLineSuffix
        output.write(prefix)
        output.write(json)
        output.write(suffix)
        return prefix.readableBytes + json.readableBytes + suffix.readableBytes
    }

    /// `callback(`, after the chunk's size line when chunked (the chunk is
    /// `callback(JSON);` CRLF, the size counts all of it).
    private static func writeJSONPPrefix(
        callback: String,
        jsonBytes: Int,
        chunked: Bool,
        to buffer: inout ByteBuffer
    ) {
        if chunked {
            let length = callback.utf8.count + 1 + jsonBytes + Self.jsonpLineSuffix.readableBytes
            buffer.writeString(String(length, radix: 16, uppercase: true))
            buffer.writeStaticString("\r\n")
        }
        buffer.writeString(callback)
        buffer.writeStaticString("(")
    }
}
