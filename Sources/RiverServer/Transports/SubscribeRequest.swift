import NIOCore
import RiverCore

/// A validated request to subscribe over HTTP, and the transport it asks for:
/// `/subscribe` streams the river JSON (long-poll with `keep=0`, JSONP with
/// `callback`), or Server-Sent Events when the client accepts
/// `text/event-stream`; `/sse` always means Server-Sent Events. `format=raw`
/// delivers message bodies as published instead of the river JSON.
struct SubscribeRequest {
    enum Transport: Equatable {
        /// River JSON chunks; `keep` false is a long-poll.
        case stream(keep: Bool, callback: String?)
        case eventStream
    }

    /// The channels, in the order first named, each with where it starts:
    /// after `seq` (nil: live only), in `epoch`, announced with `hello=1`.
    private(set) var channels: [ChannelStart]
    let transport: Transport
    /// River JSON or raw bodies (Server-Sent Events carry bodies either way).
    let format: MessageFormat

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

    init(_ request: ParsedRequest, route: Route, configuration: RiverConfiguration) throws(RequestError) {
        let head = request.head
        guard head.method == .get || head.method == .post else { throw .methodNotAllowed("GET, POST") }
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        let names = try parameters.channelNames(
            maxBytes: configuration.maxChannelName,
            max: configuration.maxChannelsPerConnection
        )
        var callback = try parameters.string("callback")
        if callback == nil { callback = try parameters.string("jsonp") }
        if callback?.isEmpty == true { callback = nil }
        self.format = try MessageFormat(parameters)
        if names.count > 1 && self.format == .raw {
            throw .invalidParameter("format", "raw bodies do not say their channel: raw carries one channel")
        }

        if route == .eventSource || (head.acceptsEventStream && callback == nil) {
            self.transport = .eventStream
            // A reconnecting EventSource sends the last id it saw; `lastEventId` is for
            // clients that cannot set headers, `seq` (one channel) or `since` for symmetry with /subscribe.
            let lastEventID: (text: String, parameter: String)?
            if let header = head.lastEventID {
                lastEventID = (header, "Last-Event-ID")
            } else if let parameter = try parameters.string("lastEventId") {
                lastEventID = (parameter, "lastEventId")
            } else {
                lastEventID = nil
            }
            if names.count == 1, let lastEventID {
                let seq: UInt64
                do {
                    seq = try CheckedNumber.parse(lastEventID.text)
                } catch {
                    if lastEventID.parameter == "Last-Event-ID" {
                        throw .badRequest("invalid Last-Event-ID header: \(error.description)")
                    }
                    throw .invalidParameter(lastEventID.parameter, error.description)
                }
                let start = ChannelStart(names[0], try Self.resumePoint(seq: seq, parameters))
                self.channels = try Self.withPresence([start], parameters, configuration)
                return
            }
            let starts = try Self.starts(names, parameters, cursor: lastEventID, configuration)
            self.channels = try Self.withPresence(starts, parameters, configuration)
            return
        }

        self.channels = try Self.withPresence(
            try Self.starts(names, parameters, cursor: nil, configuration),
            parameters,
            configuration
        )
        var keep = true
        if let value = try parameters.string("keep") {
            do {
                keep = try CheckedNumber.parse(value) != 0
            } catch {
                throw .invalidParameter("keep", "expected 0 or 1, got '\(value.prefix(CheckedNumber.quotedLength))'")
            }
        }
        if callback != nil && self.format == .raw {
            throw .invalidParameter("format", "raw cannot be wrapped in a JSONP callback")
        }
        if let callback, !Self.isValidCallback(callback) {
            throw .invalidParameter(
                "callback",
                "must be a JavaScript identifier path such as 'onMessage' or 'app.onMessage', at most \(Self.maxCallbackLength) bytes"
            )
        }
        self.transport = .stream(keep: keep, callback: callback)
    }

    /// Where each channel starts: one channel may say `seq` and `epoch`; a
    /// cursor (`since`, or an SSE `Last-Event-ID`) names any of them, and a
    /// channel it does not name starts live.
    private static func starts(
        _ names: [ChannelName],
        _ parameters: RequestParameters,
        cursor lastEventID: (text: String, parameter: String)?,
        _ configuration: RiverConfiguration
    ) throws(RequestError) -> [ChannelStart] {
        let hello = try Self.hello(parameters)
        var cursorText = lastEventID
        if cursorText == nil, let since = try parameters.string("since") { cursorText = (since, "since") }
        if names.count > 1 {
            for key in ["seq", "epoch"] where parameters.contains(key) {
                throw .invalidParameter(key, "names one channel's position: with several channels, use 'since'")
            }
        }
        guard let cursorText else {
            if names.count == 1 {
                return [
                    ChannelStart(names[0], try Self.resumePoint(seq: try parameters.unsignedInteger("seq"), parameters))
                ]
            }
            return names.map { ChannelStart($0, ResumePoint(hello: hello)) }
        }
        if parameters.contains("seq") {
            throw .invalidParameter("seq", "give the position once: 'seq' or the cursor '\(cursorText.parameter)'")
        }
        let cursor = try StreamCursor(
            parsing: cursorText.text,
            parameter: cursorText.parameter,
            maxChannelName: configuration.maxChannelName
        )
        return names.map { name in
            let position = cursor.positions[name]
            return ChannelStart(name, ResumePoint(seq: position?.seq, epoch: position?.epoch, hello: hello))
        }
    }

    /// The request with its channels counted as `member` for presence (a
    /// verified identity wins over a self-chosen name).
    func identified(as member: PresenceMember?) -> SubscribeRequest {
        guard let member else { return self }
        var request = self
        request.channels = self.channels.map {
            ChannelStart($0.channel, $0.resume, wantsPresence: $0.wantsPresence, member: member)
        }
        return request
    }

    /// `presence=1` asks for join and leave events; `user=NAME` names the
    /// subscriber for presence where `presence_self_names` allows it (public
    /// channels only), listed as unverified.
    static func withPresence(
        _ starts: [ChannelStart],
        _ parameters: RequestParameters,
        _ configuration: RiverConfiguration
    ) throws(RequestError) -> [ChannelStart] {
        let presence = try parameters.unsignedInteger("presence") ?? 0
        guard presence <= 1 else { throw .invalidParameter("presence", "expected 0 or 1") }
        let member = try Self.selfNamedMember(parameters.string("user"), channels: starts.map(\.channel), configuration)
        guard presence == 1 || member != nil else { return starts }
        return starts.map { ChannelStart($0.channel, $0.resume, wantsPresence: presence == 1, member: member) }
    }

    /// The member a client names itself, when the operator allows it: at most
    /// 64 bytes of printable UTF-8, on public channels only.
    static func selfNamedMember(
        _ user: String?,
        channels: [ChannelName],
        _ configuration: RiverConfiguration
    ) throws(RequestError) -> PresenceMember? {
        guard let user else { return nil }
        guard configuration.presenceSelfNames else {
            throw .invalidParameter("user", "self-named presence is off (presence_self_names)")
        }
        guard !user.isEmpty, user.utf8.count <= 64,
            !user.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw .invalidParameter("user", "a name of 1 to 64 bytes without control characters")
        }
        if let prefix = configuration.privatePrefix, channels.contains(where: { $0.hasPrefix(bytesOf: prefix) }) {
            throw .invalidParameter("user", "a private channel's members are who their tokens say")
        }
        return PresenceMember(user: user, isVerified: false)
    }

    /// The resume point for `seq`, with the `epoch` and `hello` parameters River adds.
    static func resumePoint(seq: UInt64?, _ parameters: RequestParameters) throws(RequestError) -> ResumePoint {
        let epoch = try parameters.unsignedInteger("epoch")
        return ResumePoint(seq: seq, epoch: epoch, hello: try Self.hello(parameters))
    }

    private static func hello(_ parameters: RequestParameters) throws(RequestError) -> Bool {
        let hello = try parameters.unsignedInteger("hello") ?? 0
        guard hello <= 1 else { throw .invalidParameter("hello", "expected 0 or 1") }
        return hello == 1
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

/// A channel of a subscription: where it starts, whether it asks for
/// presence events, and who subscribes (for presence; nil: anonymous).
struct ChannelStart: Equatable {
    let channel: ChannelName
    let resume: ResumePoint
    var wantsPresence = false
    var member: PresenceMember?

    init(_ channel: ChannelName, _ resume: ResumePoint, wantsPresence: Bool = false, member: PresenceMember? = nil) {
        self.channel = channel
        self.resume = resume
        self.wantsPresence = wantsPresence
        self.member = member
    }
}
