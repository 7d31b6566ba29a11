import NIOCore
import NIOHPACK
import NIOHTTP2

/// Lets an `HTTPConnectionHandler` serve one HTTP/2 stream unchanged: the
/// stream's request becomes the HTTP/1.1 bytes the handler parses, and the
/// HTTP/1.1 response it writes becomes HEADERS and DATA frames. Every
/// transport, the dispatcher, `StreamSubscriber` and its backpressure work
/// on a stream as on a connection; the stream's flow-control window is the
/// handler's writability (`HTTP2StreamChannel` turns unwritable while its
/// window and buffer are full).
///
/// One request per stream: what the peer sends after its request ended is
/// dropped, and nothing the handler writes after its response is sent.
/// A request header the handler could misread (CR, LF or NUL in a field,
/// a space in the path) is answered 400 here.
///
/// WebSocket over HTTP/2 (RFC 8441): an extended CONNECT (`:protocol
/// websocket`) becomes the HTTP/1.1 upgrade request the handler checks as
/// any other (with a `Sec-WebSocket-Key` of the bridge's own: HTTP/2 has
/// none); the handler's `101` becomes `:status 200`, and from then on the
/// stream's DATA carries the WebSocket's bytes both ways.
final class HTTP2StreamBridge: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum RequestState {
        case awaitingHead
        /// The body is passed through as it comes (it has a Content-Length).
        case bodyAsIs
        /// The body is passed as HTTP/1.1 chunks (no Content-Length: its length is the stream's).
        case bodyChunked
        /// A WebSocket's bytes, passed as they come.
        case tunnel
        case ended
    }

    private var request = RequestState.awaitingHead
    private var response = HTTP1ResponseDeframer(requestIsHead: false)
    private var events: [HTTP1ResponseDeframer.Event] = []
    /// The first parts of a chunk written in pieces, until its last part comes.
    private var heldChunk: ByteBuffer?
    /// The write of the frame that ends the response, until it is written.
    private var endWritten: EventLoopFuture<Void>?
    /// The request was an extended CONNECT for a WebSocket.
    private var isWebSocket = false

    /// The `Sec-WebSocket-Key` of the upgrade requests the bridge writes (RFC 6455's
    /// sample: any valid key will do, the `Sec-WebSocket-Accept` it yields is not sent on).
    static let webSocketKey = "dGhlIHNhbXBsZSBub25jZQ=="

    init() {}

    // MARK: - Inbound: the request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .headers(let headers):
            switch self.request {
            case .awaitingHead:
                self.readHead(headers.headers, endStream: headers.endStream, context: context)
            case .bodyAsIs, .bodyChunked:
                // Trailers: dropped, the body ends.
                if headers.endStream { self.endBody(context: context) }
            case .tunnel, .ended:
                break
            }
        case .data(let data):
            guard case .byteBuffer(let bytes) = data.data else { return }
            switch self.request {
            case .bodyAsIs, .tunnel:
                context.fireChannelRead(self.wrapInboundOut(bytes))
            case .bodyChunked where bytes.readableBytes > 0:
                var framed = context.channel.allocator.buffer(capacity: bytes.readableBytes + 12)
                framed.writeString(String(bytes.readableBytes, radix: 16))
                framed.writeStaticString("\r\n")
                framed.writeImmutableBuffer(bytes)
                framed.writeStaticString("\r\n")
                context.fireChannelRead(self.wrapInboundOut(framed))
            case .bodyChunked, .awaitingHead, .ended:
                break
            }
            if data.endStream, self.request != .tunnel { self.endBody(context: context) }
        default:
            break
        }
    }

    private func readHead(_ headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        if headers.first(name: ":method") == "CONNECT" {
            guard headers.first(name: ":protocol") == "websocket", !endStream else {
                self.request = .ended
                return self.refuse(context: context, "CONNECT is for :protocol websocket only (RFC 8441)")
            }
            // Only the WebSocket route may answer: another would answer 200 with bytes that are not a WebSocket's.
            guard let path = headers.first(name: ":path"), path.split(separator: "?").first == "/websocket" else {
                self.request = .ended
                return self.refuse(context: context, "a WebSocket is opened at /websocket", status: 404)
            }
            self.isWebSocket = true
        }
        let allocator = context.channel.allocator
        guard
            let head = Self.http1Head(headers, endStream: endStream, webSocket: self.isWebSocket, allocator: allocator)
        else {
            self.request = .ended
            self.refuse(context: context, "a header field holds bytes HTTP/1.1 cannot carry")
            return
        }
        self.response = HTTP1ResponseDeframer(
            requestIsHead: headers.first(name: ":method") == "HEAD",
            requestIsWebSocket: self.isWebSocket
        )
        if self.isWebSocket {
            self.request = .tunnel
        } else {
            self.request =
                endStream ? .ended : (headers.first(name: "content-length") != nil ? .bodyAsIs : .bodyChunked)
        }
        context.fireChannelRead(self.wrapInboundOut(head))
    }

    private func endBody(context: ChannelHandlerContext) {
        if case .bodyChunked = self.request {
            context.fireChannelRead(self.wrapInboundOut(ByteBuffer(string: "0\r\n\r\n")))
        }
        self.request = .ended
    }

    /// The request line and header section `headers` stand for, or nil when a
    /// field holds bytes that would change its meaning in HTTP/1.1. `webSocket`:
    /// an extended CONNECT, written as the HTTP/1.1 upgrade request it stands for.
    static func http1Head(
        _ headers: HPACKHeaders,
        endStream: Bool,
        webSocket: Bool = false,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer? {
        guard let method = headers.first(name: ":method"), let path = headers.first(name: ":path"),
            Self.isToken(method), !path.isEmpty, path.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else { return nil }
        var head = allocator.buffer(capacity: 256)
        head.writeString(webSocket ? "GET" : method)
        head.writeStaticString(" ")
        head.writeString(path)
        head.writeStaticString(" HTTP/1.1\r\n")
        if webSocket {
            head.writeStaticString("upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: ")
            head.writeString(Self.webSocketKey)
            head.writeStaticString("\r\n")
        }
        let authority = headers.first(name: ":authority")
        if let authority {
            guard Self.isFieldValue(authority) else { return nil }
            head.writeStaticString("host: ")
            head.writeString(authority)
            head.writeStaticString("\r\n")
        }
        var cookies: [String] = []
        var hasContentLength = false
        for (name, value, _) in headers {
            guard !name.hasPrefix(":") else { continue }
            guard Self.isToken(name), Self.isFieldValue(value) else { return nil }
            switch name {
            // (`host` beside `:authority` would be a second Host; RFC 9113 section 8.3.1 lets `:authority` win.)
            case "host" where authority != nil: continue
            // (`expect: 100-continue` is passed on: the handler's `100 Continue` becomes interim HEADERS.)
            case "transfer-encoding", "connection", "te": continue
            case "expect" where endStream: continue  // (no body to wait for)
            // (The upgrade's own fields are the bridge's.)
            case "upgrade",
                "sec-websocket-key" where webSocket:
                continue
            case "cookie":
                cookies.append(value)
                continue
            case "content-length": hasContentLength = true
            default: break
            }
            head.writeString(name)
            head.writeStaticString(": ")
            head.writeString(value)
            head.writeStaticString("\r\n")
        }
        if !cookies.isEmpty {
            // RFC 9113 section 8.2.3: split cookie fields are joined with "; " for HTTP/1.1.
            head.writeStaticString("cookie: ")
            head.writeString(cookies.joined(separator: "; "))
            head.writeStaticString("\r\n")
        }
        if !endStream && !hasContentLength && !webSocket {
            head.writeStaticString("transfer-encoding: chunked\r\n")
        }
        head.writeStaticString("\r\n")
        return head
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }
    }

    static func isFieldValue(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 != 0x0D && $0 != 0x0A && $0 != 0x00 }
    }

    /// A 400 (or `status`) for a request that cannot be passed on, saying why.
    private func refuse(context: ChannelHandlerContext, _ reason: String, status: Int = 400) {
        let body = ByteBuffer(string: status == 400 ? "bad request: \(reason)\n" : "\(reason)\n")
        let headers: HPACKHeaders = [
            ":status": "\(status)", "content-type": "text/plain; charset=utf-8",
            "content-length": "\(body.readableBytes)",
        ]
        context.write(self.wrapOutboundOut(.headers(.init(headers: headers))), promise: nil)
        context.writeAndFlush(
            self.wrapOutboundOut(.data(.init(data: .byteBuffer(body), endStream: true))),
            promise: nil
        )
    }

    // MARK: - Outbound: the response

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = self.unwrapOutboundIn(data)
        guard !self.response.isComplete else {
            promise?.succeed()
            return
        }
        do {
            try self.response.read(bytes, into: &self.events)
        } catch {
            self.events.removeAll()
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        self.joinChunkParts()
        guard !self.events.isEmpty else {
            promise?.succeed()
            return
        }
        let events = self.events
        self.events.removeAll(keepingCapacity: true)
        for (index, event) in events.enumerated() {
            let isLast = index == events.count - 1
            // The end goes on the frame before it when there is one.
            if index + 1 < events.count, case .end = events[index + 1] {
                self.writeFrame(event, endStream: true, context: context, promise: promise)
                break
            }
            self.writeFrame(event, endStream: false, context: context, promise: isLast ? promise : nil)
        }
    }

    /// Holds the parts of a chunk written in pieces and puts them together
    /// with its last part: an HTTP/1.1 chunk is one DATA frame, as a client
    /// reading both sees one message per chunk (one copy, JSONP only).
    private func joinChunkParts() {
        guard self.heldChunk != nil || self.events.contains(where: { if case .chunkPart = $0 { true } else { false } })
        else { return }
        var joined: [HTTP1ResponseDeframer.Event] = []
        for event in self.events {
            switch event {
            case .chunkPart(let part):
                self.heldChunk.setOrWriteImmutableBuffer(part)
            case .body(let last) where self.heldChunk != nil:
                self.heldChunk!.writeImmutableBuffer(last)
                joined.append(.body(self.heldChunk!))
                self.heldChunk = nil
            default:
                joined.append(event)
            }
        }
        self.events = joined
    }

    private func writeFrame(
        _ event: HTTP1ResponseDeframer.Event,
        endStream: Bool,
        context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>?
    ) {
        let payload: HTTP2Frame.FramePayload
        switch event {
        case .head(let status, let fields, _):
            guard !self.isWebSocket || status == 101 || status >= 300 else {
                // (Never: /websocket answers 101 or refuses.) A 2xx would tell the client its WebSocket is open.
                promise?.fail(ChannelError.inappropriateOperationForState)
                context.close(promise: nil)
                return
            }
            var headers = HPACKHeaders()
            headers.reserveCapacity(fields.count + 1)
            // RFC 8441 section 5: the WebSocket is accepted with a 2xx; the accept key is HTTP/1.1's.
            let accepted = self.isWebSocket && status == 101
            headers.add(name: ":status", value: accepted ? "200" : String(status))
            for (name, value) in fields where !(accepted && name == "sec-websocket-accept") {
                headers.add(name: name, value: value)
            }
            payload = .headers(.init(headers: headers, endStream: endStream))
        case .body(let bytes):
            payload = .data(.init(data: .byteBuffer(bytes), endStream: endStream))
        case .end:
            payload = .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
        case .interimContinue:
            payload = .headers(.init(headers: [":status": "100"]))
        case .chunkPart:
            preconditionFailure("a chunk's parts are joined before they are written")
        }
        guard endStream || event == .end else {
            context.write(self.wrapOutboundOut(payload), promise: promise)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.cascade(to: promise)
        self.endWritten = written.futureResult
        context.write(self.wrapOutboundOut(payload), promise: written)
    }

    /// A close after a complete response waits for its last frame to be
    /// written: closing a stream whose request is still open resets it, and
    /// the reset would overtake an answer still waiting for the flush (a 413
    /// to a body not sent yet arrived as HEADERS and RST_STREAM, no body).
    /// Not when the stream takes no more (a peer that does not read): then at
    /// once; and never longer than `closeWait` (a window the peer keeps shut).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard let endWritten = self.endWritten, context.channel.isWritable else {
            return context.close(mode: mode, promise: promise)
        }
        self.endWritten = nil
        let closing = NIOLoopBound((context: context, once: Once()), eventLoop: context.eventLoop)
        let closeOnce: @Sendable () -> Void = {
            guard !closing.value.once.isDone else { return }
            closing.value.once.isDone = true
            closing.value.context.close(mode: mode, promise: promise)
        }
        let bound = context.eventLoop.scheduleTask(in: Self.closeWait) { closeOnce() }
        endWritten.whenComplete { _ in
            bound.cancel()
            closeOnce()
        }
    }

    /// The longest a close waits for the response's last frame.
    static let closeWait = TimeAmount.seconds(5)

    /// Whether a close waiting on two events has happened (the first of them closes).
    private final class Once {
        var isDone = false
    }
}

@available(*, unavailable)
extension HTTP2StreamBridge: Sendable {}
