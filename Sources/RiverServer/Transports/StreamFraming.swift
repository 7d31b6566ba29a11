import NIOCore
import NIOWebSocket
import RiverCore

/// How a stream frames what it carries: the river JSON as HTTP chunks (or
/// lines, for HTTP/1.0), optionally JSONP-wrapped; Server-Sent Events; or
/// WebSocket text frames. The subscription's lifecycle (`StreamSubscriber`)
/// does not depend on it.
enum StreamFraming {
    /// `/subscribe`: one river JSON document per chunk (per line when `chunked` is
    /// false), wrapped as `callback(...);` CRLF when `callback` is set.
    case river(chunked: Bool, callback: String?)
    /// `/sse`: one event per message (`id:` = seq), notices as `event: lost|reset|live`.
    case eventStream
    /// `/websocket`: one text frame per message.
    case webSocket

    /// The response's content type (HTTP transports).
    var contentType: String {
        switch self {
        case .river(_, nil): return "text/plain; charset=utf-8"
        case .river: return "application/javascript; charset=utf-8"
        case .eventStream: return "text/event-stream; charset=utf-8"
        case .webSocket: return "application/octet-stream"
        }
    }

    /// Chunked responses end with the last chunk; the others end when the connection closes.
    var isChunked: Bool {
        if case .river(let chunked, _) = self { return chunked }
        return false
    }

    /// What is written when nothing else was for `heartbeat`; river JSON has
    /// nothing harmless to send (its clients parse every chunk).
    var heartbeat: ByteBuffer? {
        switch self {
        case .eventStream: return EventStreamFraming.heartbeat
        case .webSocket: return Self.ping
        case .river: return nil
        }
    }

    private static let ping = WebSocketFraming.frame(opcode: .ping, payload: ByteBuffer(), allocator: .init())

    /// Writes one message; returns the bytes written.
    func write(_ message: EncodedMessage, to output: SubscriberOutput) -> Int {
        let bytes: ByteBuffer
        switch self {
        case .river(let chunked, nil):
            bytes = message.bytes(chunked ? .chunk : .line)
        case .river(let chunked, let callback?):
            return Self.writeJSONP(message.bytes(.json), callback: callback, chunked: chunked, to: output)
        case .eventStream:
            bytes = message.bytes(.eventStream)
        case .webSocket:
            bytes = message.bytes(.webSocketText)
        }
        output.write(bytes)
        return bytes.readableBytes
    }

    /// Writes a `lost`, `reset` or `live` notice.
    func write(_ notice: CatchUp.Notice, channel: ChannelName, to output: SubscriberOutput) {
        let allocator = output.allocator
        switch self {
        case .river(let chunked, let callback):
            var json = allocator.buffer(capacity: 96)
            RiverJSON.writeNotice(notice, channel: channel, into: &json)
            if let callback {
                _ = Self.writeJSONP(json, callback: callback, chunked: chunked, to: output)
            } else if chunked {
                output.write(
                    ChunkFraming.makeChunk(capacity: json.readableBytes, allocator: allocator) {
                        $0.writeImmutableBuffer(json)
                    }
                )
            } else {
                json.writeStaticString("\r\n")
                output.write(json)
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
            output.write(event)
        case .webSocket:
            var json = allocator.buffer(capacity: 96)
            RiverJSON.writeNotice(notice, channel: channel, into: &json)
            output.write(WebSocketFraming.frame(opcode: .text, payload: json, allocator: allocator))
        }
    }

    /// Writes what ends the stream for `reason` (nil: it is complete, as a
    /// long-poll after its messages): the last chunk, or a close frame.
    /// Returns whether the connection may carry another request afterwards.
    func writeEnd(_ reason: FinishReason?, to output: SubscriberOutput) -> Bool {
        switch self {
        case .river(true, _):
            output.write(ChunkFraming.terminator)
            return true
        case .river(false, _), .eventStream:
            return false
        case .webSocket:
            let (code, text) = Self.closeStatus(for: reason)
            output.write(WebSocketFraming.closeFrame(code: code, reason: text, allocator: output.allocator))
            return false
        }
    }

    /// The close frame's status (RFC 6455 section 7.4.1) for why the server ends a stream.
    private static func closeStatus(for reason: FinishReason?) -> (UInt16, String) {
        switch reason {
        case .shutdown: return (1001, "server shutting down")
        case .channelDeleted: return (1000, "channel deleted")
        case .channelReset: return (1000, "channel reset: resume with seq and epoch")
        case .timeout: return (1000, "client_timeout")
        case .slowConsumer, nil: return (1000, "")
        }
    }

    private static let jsonpChunkSuffix = ByteBuffer(string: ");\r\n\r\n")
    private static let jsonpLineSuffix = ByteBuffer(string: ");\r\n")

    /// `callback(JSON);` CRLF: the JSON is shared, only the small prefix is this subscriber's.
    private static func writeJSONP(
        _ json: ByteBuffer,
        callback: String,
        chunked: Bool,
        to output: SubscriberOutput
    ) -> Int {
        var prefix = output.allocator.buffer(capacity: callback.utf8.count + 12)
        if chunked {
            let length = callback.utf8.count + 1 + json.readableBytes + Self.jsonpLineSuffix.readableBytes
            prefix.writeString(String(length, radix: 16, uppercase: true))
            prefix.writeStaticString("\r\n")
        }
        prefix.writeString(callback)
        prefix.writeStaticString("(")
        let suffix = chunked ? Self.jsonpChunkSuffix : Self.jsonpLineSuffix
        output.write(prefix)
        output.write(json)
        output.write(suffix)
        return prefix.readableBytes + json.readableBytes + suffix.readableBytes
    }
}
