import NIOCore
import RiverCore

/// The parameters of a `/subscribe` request, validated.
struct SubscribeRequest {
    let channel: ChannelName
    /// Replay everything after this seq first (nil: live only).
    let seq: UInt64?
    /// `keep=1` (default) streams; `keep=0` is a long-poll.
    let keep: Bool
    /// JSONP callback (`callback`, or the original's `jsonp`).
    let callback: String?

    static let maxCallbackLength = 128

    init(_ request: HTTPRequest, configuration: RiverConfiguration) throws(RequestError) {
        let head = request.head
        guard head.method == .get || head.method == .post else { throw .methodNotAllowed("GET, POST") }
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        self.channel = try parameters.channelName(maxBytes: configuration.maxChannelName)
        self.seq = try parameters.unsignedInteger("seq")
        if let keep = try parameters.string("keep") {
            guard let value = Int(keep) else {
                throw .invalidParameter("keep", "expected 0 or 1, got '\(keep.prefix(32))'")
            }
            self.keep = value != 0
        } else {
            self.keep = true
        }
        var callback = try parameters.string("callback")
        if callback == nil { callback = try parameters.string("jsonp") }
        if let callback, !callback.isEmpty {
            guard Self.isValidCallback(callback) else {
                throw .invalidParameter(
                    "callback",
                    "must be a JavaScript identifier path such as 'onMessage' or 'app.onMessage', at most \(Self.maxCallbackLength) bytes"
                )
            }
            self.callback = callback
        } else {
            self.callback = nil
        }
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
