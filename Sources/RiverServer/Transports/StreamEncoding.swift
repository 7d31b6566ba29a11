import NIOCore
import RiverCore

/// How a streamed HTTP response frames what it carries: the river JSON as
/// chunks (or lines, for HTTP/1.0), optionally JSONP-wrapped, or Server-Sent
/// Events. The subscription's lifecycle does not depend on it.
enum StreamEncoding {
    /// `/subscribe`: one river JSON document per chunk (per line when `chunked` is
    /// false), wrapped as `callback(...);` CRLF when `callback` is set.
    case river(chunked: Bool, callback: String?)
    /// `/sse`: one event per message (`id:` = seq), notices as `event: lost|reset`.
    case eventStream

    var contentType: String {
        switch self {
        case .river(_, nil): return "text/plain; charset=utf-8"
        case .river: return "application/javascript; charset=utf-8"
        case .eventStream: return "text/event-stream; charset=utf-8"
        }
    }

    /// Chunked responses end with the last chunk; the others end when the connection closes.
    var isChunked: Bool {
        if case .river(let chunked, _) = self { return chunked }
        return false
    }

    /// What is written when nothing else was for `heartbeat` (only SSE has a harmless one).
    var heartbeat: ByteBuffer? {
        if case .eventStream = self { return EventStreamFraming.heartbeat }
        return nil
    }

    /// Writes one message; returns the bytes written.
    func write(_ message: EncodedMessage, to context: ChannelHandlerContext) -> Int {
        switch self {
        case .river(let chunked, nil):
            let bytes = message.bytes(chunked ? .chunk : .line)
            context.write(NIOAny(bytes), promise: nil)
            return bytes.readableBytes
        case .river(let chunked, let callback?):
            return Self.writeJSONP(message.bytes(.json), callback: callback, chunked: chunked, to: context)
        case .eventStream:
            let bytes = message.bytes(.eventStream)
            context.write(NIOAny(bytes), promise: nil)
            return bytes.readableBytes
        }
    }

    /// Writes a `lost` or `reset` notice.
    func write(_ notice: CatchUp.Notice, channel: ChannelName, to context: ChannelHandlerContext) {
        let allocator = context.channel.allocator
        switch self {
        case .river(let chunked, let callback):
            var json = allocator.buffer(capacity: 96)
            RiverJSON.writeNotice(notice, channel: channel, into: &json)
            if let callback {
                _ = Self.writeJSONP(json, callback: callback, chunked: chunked, to: context)
            } else if chunked {
                context.write(
                    NIOAny(
                        ChunkFraming.makeChunk(capacity: json.readableBytes, allocator: allocator) {
                            $0.writeImmutableBuffer(json)
                        }
                    ),
                    promise: nil
                )
            } else {
                json.writeStaticString("\r\n")
                context.write(NIOAny(json), promise: nil)
            }
        case .eventStream:
            var data = allocator.buffer(capacity: 96)
            RiverJSON.writeNoticeBody(notice, channel: channel, into: &data)
            var event = allocator.buffer(capacity: 128)
            // Each notice moves the event id to where the stream now stands, so
            // an EventSource reconnecting on its own resumes from there: past
            // what is lost, from 0 after a reset (the replay follows), at a live start.
            let id: UInt64
            switch notice {
            case .lost(_, let to): id = to
            case .reset: id = 0
            case .live(let seq, _): id = seq
            }
            EventStreamFraming.writeEvent(id: id, event: RiverJSON.type(of: notice), data: data, into: &event)
            context.write(NIOAny(event), promise: nil)
        }
    }

    private static let jsonpChunkSuffix = ByteBuffer(string: ");\r\n\r\n")
    private static let jsonpLineSuffix = ByteBuffer(string: ");\r\n")

    /// `callback(JSON);` CRLF: the JSON is shared, only the small prefix is this subscriber's.
    private static func writeJSONP(
        _ json: ByteBuffer,
        callback: String,
        chunked: Bool,
        to context: ChannelHandlerContext
    ) -> Int {
        var prefix = context.channel.allocator.buffer(capacity: callback.utf8.count + 12)
        if chunked {
            let length = callback.utf8.count + 1 + json.readableBytes + Self.jsonpLineSuffix.readableBytes
            prefix.writeString(String(length, radix: 16, uppercase: true))
            prefix.writeStaticString("\r\n")
        }
        prefix.writeString(callback)
        prefix.writeStaticString("(")
        let suffix = chunked ? Self.jsonpChunkSuffix : Self.jsonpLineSuffix
        context.write(NIOAny(prefix), promise: nil)
        context.write(NIOAny(json), promise: nil)
        context.write(NIOAny(suffix), promise: nil)
        return prefix.readableBytes + json.readableBytes + suffix.readableBytes
    }
}
