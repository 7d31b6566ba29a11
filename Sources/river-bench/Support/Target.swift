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
            headers = [
                "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ] + self.webSocketHeaders
        }
        let target = path.replacingChannel(with: channel).replacingOccurrences(of: "{seq}", with: String(seq))
        var request = "GET \(target) HTTP/1.1\r\nHost: \(self.host)\r\n"
        for header in headers { request += header + "\r\n" }
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
