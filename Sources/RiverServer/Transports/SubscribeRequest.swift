import NIOCore
import RiverCore

/// A validated request to subscribe over HTTP, and the transport it asks for:
/// `/subscribe` streams the river JSON (long-poll with `keep=0`, JSONP with
/// `callback`), or Server-Sent Events when the client accepts
/// `text/event-stream`; `/sse` always means Server-Sent Events.
struct SubscribeRequest {
    enum Transport: Equatable {
        /// River JSON chunks; `keep` false is a long-poll.
        case stream(keep: Bool, callback: String?)
        case eventStream
    }

    let channel: ChannelName
    /// Where to start: after `seq` (nil: live only), in `epoch`, announced with `hello=1`.
    let resume: ResumePoint
    let transport: Transport

    static let maxCallbackLength = 128

    /// Whether the connection stays a stream until the end (long-polls hand it back).
    var keep: Bool {
        if case .stream(let keep, _) = self.transport { return keep }
        return true
    }

    /// What access control is asked for: a JSONP stream is read by a script
    /// any page may include, so a cookie never authorizes it.
    var accessAction: AccessPolicy.Action {
        if case .stream(_, let callback?) = self.transport, !callback.isEmpty { return .subscribeAsScript }
        return .subscribe
    }

    init(_ request: HTTPRequest, route: Route, configuration: RiverConfiguration) throws(RequestError) {
        let head = request.head
        guard head.method == .get || head.method == .post else { throw .methodNotAllowed("GET, POST") }
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        self.channel = try parameters.channelName(maxBytes: configuration.maxChannelName)
        var callback = try parameters.string("callback")
        if callback == nil { callback = try parameters.string("jsonp") }
        if callback?.isEmpty == true { callback = nil }

        if route == .eventSource || (head.acceptsEventStream && callback == nil) {
            self.transport = .eventStream
            // A reconnecting EventSource sends the last id it saw; `lastEventId` is for
            // clients that cannot set headers, `seq` for symmetry with /subscribe.
            var seq: UInt64?
            if let lastEventID = head.lastEventID {
                do {
                    seq = try CheckedNumber.parse(lastEventID)
                } catch {
                    throw .badRequest("invalid Last-Event-ID header: \(error.description)")
                }
            } else if let value = try parameters.unsignedInteger("lastEventId") {
                seq = value
            } else {
                seq = try parameters.unsignedInteger("seq")
            }
            self.resume = try Self.resumePoint(seq: seq, parameters)
            return
        }

        self.resume = try Self.resumePoint(seq: try parameters.unsignedInteger("seq"), parameters)
        var keep = true
        if let value = try parameters.string("keep") {
            do {
                keep = try CheckedNumber.parse(value) != 0
            } catch {
                throw .invalidParameter("keep", "expected 0 or 1, got '\(value.prefix(CheckedNumber.quotedLength))'")
            }
        }
        if let callback, !Self.isValidCallback(callback) {
            throw .invalidParameter(
                "callback",
                "must be a JavaScript identifier path such as 'onMessage' or 'app.onMessage', at most \(Self.maxCallbackLength) bytes"
            )
        }
        self.transport = .stream(keep: keep, callback: callback)
    }

    /// The resume point for `seq`, with the `epoch` and `hello` parameters River adds.
    static func resumePoint(seq: UInt64?, _ parameters: RequestParameters) throws(RequestError) -> ResumePoint {
        let epoch = try parameters.unsignedInteger("epoch")
        let hello = try parameters.unsignedInteger("hello") ?? 0
        guard hello <= 1 else { throw .invalidParameter("hello", "expected 0 or 1") }
        return ResumePoint(seq: seq, epoch: epoch, hello: hello == 1)
    }

    /// `[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*`, at most 128 bytes:
    /// anything else in a JSONP callback would be a script-injection hole.
    static func isValidCallback(_ callback: String) -> Bool {
        let bytes = Array(callback.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maxCallbackLength else { return false }
        var atSegmentStart = true
        for byte in bytes {
            let isLetter =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if byte == UInt8(ascii: ".") {
                if atSegmentStart { return false }
                atSegmentStart = true
            } else if atSegmentStart {
                if !isLetter { return false }
                atSegmentStart = false
            } else if !isLetter && !isDigit {
                return false
            }
        }
        return !atSegmentStart
    }
}
