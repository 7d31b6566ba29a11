import NIOCore
import NIOHPACK
import NIOHTTP2
import RiverCore

/// Publishes answered on the connection: a stream whose HEADERS end it and
/// ask for `/publish` is dispatched and answered here, with no stream channel,
/// bridge or `HTTPConnectionHandler` made for it (docs/BENCHMARKS.md, "HTTP/2
/// against HTTP/1.1": those were most of what a publish cost on a stream).
///
/// The request goes through the same parser and dispatcher as any other (its
/// head is the HTTP/1.1 text `HTTP2StreamBridge.http1Head` writes), and the
/// answer is the same `CompleteResponse`. Whatever this path does not finish
/// by itself — a head the parser refuses, a token to verify, a question for
/// the application — is passed to the multiplexer untouched, and the stream's
/// own handler serves it as before.
extension HTTP2ConnectionHandler {
    /// A publish the connection answers itself.
    struct DirectPublish {
        let dispatch: RequestDispatcher.Dispatch
        /// A HEAD request: the answer without its body.
        let omitsBody: Bool
    }

    /// The publish `headers` open a stream with, when this connection can answer it itself:
    /// `plainHead` when the fields are those of `plainPublishHead`, else read from their text.
    func directPublish(
        _ headers: HPACKHeaders,
        plainHead: ParsedRequestHead?,
        context: ChannelHandlerContext
    ) -> DirectPublish? {
        guard
            let head = plainHead
                ?? Self.publishHeadFromText(headers, limits: self.server.parserLimits, context: context),
            Router.route(head.path) == .publish, !head.isChunked, (head.contentLength ?? 0) == 0
        else { return nil }
        let dispatcher = RequestDispatcher(
            server: self.server,
            listener: self.listener,
            peer: context.channel.remoteAddress
        )
        let dispatch = dispatcher.dispatch(ParsedRequest(head: head))
        switch dispatch {
        case .respond, .publish: return DirectPublish(dispatch: dispatch, omitsBody: head.method == .head)
        default: return nil
        }
    }

    /// The head of a publish whose fields are only those a publish ignores (what
    /// load tools and most clients send), from the request line alone: the
    /// HTTP/1.1 text of every field, parsed again, cost 7.5 % of an HTTP/2
    /// publish (docs/BENCHMARKS.md). Nil: any other field, or fields kept for
    /// `auth_url`; the text's way then. A block taken here is well formed
    /// (RFC 9113 sections 8.2 and 8.3, checked as it is read: the connection's
    /// `HTTP2FieldValidation` pass is not needed for it).
    static func plainPublishHead(_ headers: HPACKHeaders, limits: HTTPRequestParser.Limits) -> ParsedRequestHead? {
        guard limits.keptFields.isEmpty else { return nil }
        var method: String?
        var path: String?
        var hasScheme = false
        var hasAuthority = false
        var fields = 0
        var acceptsEventStream = false
        for (name, value, _) in headers {
            switch name {
            case ":method" where method == nil: method = value
            case ":path" where path == nil:
                guard value.hasPrefix("/publish") else { return nil }  // (any other route: no need to read on)
                path = value
            case ":authority" where !hasAuthority: hasAuthority = true
            case ":scheme" where !hasScheme: hasScheme = true
            case "accept", "accept-encoding", "accept-language", "user-agent", "cache-control", "pragma":
                guard HTTP2StreamBridge.isFieldValue(value) else { return nil }
                fields += 1
                if name == "accept" { acceptsEventStream = value.lowercased().contains("text/event-stream") }
                continue
            default: return nil
            }
            // A pseudo-header: once (above), before every field, no control byte or space.
            guard fields == 0, value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return nil }
        }
        guard let method, let path, hasScheme, hasAuthority, method != "CONNECT",
            fields <= limits.maxHeaderCount, method.utf8.count + path.utf8.count + 10 <= limits.maxRequestLine
        else { return nil }
        var line = ByteBuffer()
        line.reserveCapacity(method.utf8.count + path.utf8.count + 10)
        line.writeString(method)
        line.writeStaticString(" ")
        line.writeString(path)
        line.writeStaticString(" HTTP/1.1")
        guard var head = try? HTTPRequestParser.parseRequestLine(line) else { return nil }
        head.acceptsEventStream = acceptsEventStream
        return head
    }

    /// The head of any other publish: its HTTP/1.1 text, parsed as on HTTP/1.1.
    private static func publishHeadFromText(
        _ headers: HPACKHeaders,
        limits: HTTPRequestParser.Limits,
        context: ChannelHandlerContext
    ) -> ParsedRequestHead? {
        guard headers.first(name: ":path")?.hasPrefix("/publish") == true,
            let text = HTTP2StreamBridge.http1Head(headers, endStream: true, allocator: context.channel.allocator)
        else { return nil }
        return try? HTTPRequestParser.parseHead(text, limits: limits)
    }

    /// Answers `publish` on `stream`: the stream counts as open until its answer ends it.
    func answer(_ publish: DirectPublish, on stream: HTTP2StreamID, context: ChannelHandlerContext) {
        self.directStreams.append(stream)
        self.streamStarted(stream)
        self.loop.counters.requests += 1
        let omitsBody = publish.omitsBody
        switch publish.dispatch {
        case .publish(let message, let headers):
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            PublishResponder.store(
                message,
                headers: headers,
                server: self.server,
                loop: self.loop,
                on: context.eventLoop
            ) {
                response in
                handler.value.write(response, on: stream, omitsBody: omitsBody)
            }
        case .respond(let response):
            self.write(response, on: stream, omitsBody: omitsBody)
        default:
            preconditionFailure("only publishes and answers are taken: \(publish.dispatch)")
        }
    }

    /// Writes `response` as HEADERS and DATA ending `stream`; the socket's flush waits for the tick's end.
    private func write(_ response: CompleteResponse, on stream: HTTP2StreamID, omitsBody: Bool) {
        guard let context = self.context, self.directStreams.contains(stream) else { return }
        if response.status.code >= 400 && response.status.code < 500 { self.loop.counters.badRequests += 1 }
        let body = omitsBody ? ByteBuffer() : response.body
        var headers = HPACKHeaders()
        headers.reserveCapacity(response.headers.count + 3)
        headers.add(name: ":status", value: response.status.code == 200 ? "200" : String(response.status.code))
        if let contentType = response.contentType { headers.add(name: "content-type", value: contentType) }
        // (A length changes with every answer: not worth a place in the peer's HPACK table.)
        headers.add(name: "content-length", value: String(response.body.readableBytes), indexing: .nonIndexable)
        for (name, value) in response.headers {
            let isLowercase = !name.utf8.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
            headers.add(name: isLowercase ? name : name.lowercased(), value: value)
        }
        let hasBody = body.readableBytes > 0
        context.write(
            self.wrapOutboundOut(
                HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers, endStream: !hasBody)))
            ),
            promise: nil
        )
        if hasBody {
            context.write(
                self.wrapOutboundOut(
                    HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(body), endStream: true)))
                ),
                promise: nil
            )
        }
        // (Written during a read: NIOHTTP2Handler flushes it when the read completes.)
        if !self.isReading { context.flush() }
    }
}
