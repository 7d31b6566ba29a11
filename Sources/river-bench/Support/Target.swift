import Foundation
import NIOCore

/// The server under load and how to speak to it: request templates with
/// `{channel}`, so the same run can drive River, the original river or
/// nginx+nchan.
struct Target: Sendable {
    enum BodyPlacement: String, Sendable {
        /// The message is the raw request body.
        case raw
        /// The message is the `data` query parameter (the original river's API).
        case query
        /// The message is the `data` field of a form body.
        case form
    }

    var host = "127.0.0.1"
    var port = 9271
    /// Where subscribers connect when it is not `port` (multi-node runs: other
    /// nodes of the same service). Subscriber `i` uses `subscriberPorts[i % count]`.
    var subscriberPorts: [Int] = []
    var streamPath = "/subscribe?name={channel}"
    var streamHeaders: [String] = []
    var eventStreamPath = "/sse?name={channel}"
    var eventStreamHeaders: [String] = ["Accept: text/event-stream"]
    var webSocketPath = "/websocket?name={channel}"
    /// Extra handshake fields, e.g. a permessage-deflate offer.
    var webSocketHeaders: [String] = []
    /// Whether `webSocketHeaders` offers permessage-deflate: echo clients then send compressed frames.
    var webSocketCompress = false
    var longPollPath = "/subscribe?name={channel}&keep=0&seq={seq}"
    var publishPath = "/publish?name={channel}"
    var publishMethod = "POST"
    var publishBody = BodyPlacement.raw
    /// Several channels in one subscription (PROTOCOL.md C1): the path
    /// templates' `{channels}` becomes the names joined by `channelSeparator`
    /// (River repeats `name`; nchan splits one id on a delimiter).
    var multiStreamPath = "/subscribe?name={channels}"
    var multiEventStreamPath = "/sse?name={channels}"
    /// nil: subscribe with `river.v2` commands on `commandPath` instead of one URL.
    var multiWebSocketPath: String?
    var channelSeparator = "&name="
    /// Where a `river.v2` WebSocket connects (no channel: it subscribes by command).
    var commandPath = "/websocket"

    /// River's own API on port 9271.
    static let river = Target()

    /// nginx + nchan as configured by `scripts/nchan/` (port 9272): a chunked
    /// stream needs `TE: chunked`; SSE, WebSocket and publish share the URLs.
    static var nchan: Target {
        var target = Target()
        target.port = 9272
        target.streamHeaders = ["TE: chunked"]
        target.eventStreamPath = "/subscribe?name={channel}"
        target.webSocketPath = "/subscribe?name={channel}"
        // scripts/nchan: `nchan_channel_id $arg_name` split on commas, up to 255 channels.
        target.multiStreamPath = "/multi?name={channels}"
        target.multiEventStreamPath = "/multi?name={channels}"
        target.multiWebSocketPath = "/multi?name={channels}"
        target.channelSeparator = ","
        return target
    }

    func subscribeRequest(_ transport: Transport, channel: String, seq: UInt64 = 0) -> ByteBuffer {
        let path: String
        var headers: [String]
        switch transport {
        case .stream:
            path = self.streamPath
            headers = self.streamHeaders
        case .eventStream:
            path = self.eventStreamPath
            headers = self.eventStreamHeaders
        case .longPoll:
            path = self.longPollPath
            headers = []
        case .webSocket:
            path = self.webSocketPath
            headers =
                [
                    "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                ] + self.webSocketHeaders
        }
        let target = path.replacingChannel(with: channel).replacingOccurrences(of: "{seq}", with: String(seq))
        var request = "GET \(target) HTTP/1.1\r\nHost: \(self.host)\r\n"
        for header in headers { request += header + "\r\n" }
        return ByteBuffer(string: request + "\r\n")
    }

    /// One subscribe request for every channel of `channels` (a multi-channel
    /// stream, SSE stream or WebSocket), with `query` (`presence=1&user=u`)
    /// added, or nil when the transport subscribes by command instead
    /// (River's WebSocket: `river.v2`).
    func multiSubscribeRequest(_ transport: Transport, channels: [String], query: String = "") -> ByteBuffer? {
        let names =
            channels.map(\.formEncoded).joined(separator: self.channelSeparator) + (query.isEmpty ? "" : "&" + query)
        var copy = self
        switch transport {
        case .stream, .longPoll: copy.streamPath = self.multiStreamPath
        case .eventStream: copy.eventStreamPath = self.multiEventStreamPath
        case .webSocket:
            guard let path = self.multiWebSocketPath else { return nil }
            copy.webSocketPath = path
        }
        // Names are encoded above, separators must stay as they are: fill `{channels}` first.
        copy.streamPath = copy.streamPath.replacingOccurrences(of: "{channels}", with: names)
        copy.eventStreamPath = copy.eventStreamPath.replacingOccurrences(of: "{channels}", with: names)
        copy.webSocketPath = copy.webSocketPath.replacingOccurrences(of: "{channels}", with: names)
        return copy.subscribeRequest(transport == .longPoll ? .stream : transport, channel: "")
    }

    /// The handshake of a `river.v2` WebSocket (PROTOCOL.md C2), with `query` appended to `commandPath`.
    func commandHandshake(query: String = "") -> ByteBuffer {
        let path = self.commandPath + (query.isEmpty ? "" : (self.commandPath.contains("?") ? "&" : "?") + query)
        var request = "GET \(path) HTTP/1.1\r\nHost: \(self.host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        request += "Sec-WebSocket-Protocol: river.v2\r\n"
        for header in self.webSocketHeaders { request += header + "\r\n" }
        return ByteBuffer(string: request + "\r\n")
    }

    /// One publish request for `message` on `channel`.
    func publishRequest(channel: String, message: String, close: Bool = false) -> ByteBuffer {
        var target = self.publishPath.replacingChannel(with: channel)
        var body = ""
        var headers = "Host: \(self.host)\r\n"
        switch self.publishBody {
        case .raw:
            body = message
            headers += "Content-Type: text/plain\r\n"
        case .query:
            target += (target.contains("?") ? "&" : "?") + "data=" + message.formEncoded
        case .form:
            body = "data=" + message.formEncoded
            headers += "Content-Type: application/x-www-form-urlencoded\r\n"
        }
        if self.publishMethod != "GET" || !body.isEmpty {
            headers += "Content-Length: \(body.utf8.count)\r\n"
        }
        if close { headers += "Connection: close\r\n" }
        return ByteBuffer(string: "\(self.publishMethod) \(target) HTTP/1.1\r\n\(headers)\r\n\(body)")
    }
}

/// How subscribers connect.
enum Transport: String, Sendable, CaseIterable {
    case stream
    case longPoll = "longpoll"
    case eventStream = "sse"
    case webSocket = "websocket"

    var framing: StreamFraming.Framing {
        switch self {
        case .stream, .longPoll: return .chunked
        case .eventStream: return .eventStream
        case .webSocket: return .webSocket
        }
    }
}

extension String {
    func replacingChannel(with channel: String) -> String {
        self.replacingOccurrences(of: "{channel}", with: channel.formEncoded)
    }

    private static let unreserved = CharacterSet(
        charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
    )

    /// Percent-encodes everything but unreserved characters.
    var formEncoded: String {
        self.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? self
    }
}
