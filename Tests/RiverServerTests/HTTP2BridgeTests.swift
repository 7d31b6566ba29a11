import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

@testable import RiverServer

/// The translation between an HTTP/2 stream and the HTTP/1.1 bytes
/// `HTTPConnectionHandler` reads and writes, byte by byte.
@Suite struct HTTP2BridgeTests {
    func events(_ pieces: [String], head: Bool = false) throws -> [HTTP1ResponseDeframer.Event] {
        var deframer = HTTP1ResponseDeframer(requestIsHead: head)
        var events: [HTTP1ResponseDeframer.Event] = []
        for piece in pieces {
            try deframer.read(ByteBuffer(string: piece), into: &events)
        }
        return events
    }

    @Test func aChunkedStreamBecomesItsChunksDataWhateverTheWriteBoundaries() throws {
        let response =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
            + "Connection: keep-alive\r\n\r\n5;river-notice\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
        let whole = try self.events([response])
        #expect(
            whole == [
                .head(status: 200, headers: [("content-type", "text/plain")], bodyless: false),
                .body(ByteBuffer(string: "hello")), .body(ByteBuffer(string: "abc")), .end,
            ]
        )
        // One byte per write: the same body, in pieces.
        let bytewise = try self.events(response.map { String($0) })
        var body = ""
        for event in bytewise {
            if case .body(let bytes) = event { body += String(buffer: bytes) }
            if case .chunkPart(let bytes) = event { body += String(buffer: bytes) }
        }
        #expect(body == "helloabc")
        #expect(bytewise.first == whole.first && bytewise.last == .end)
    }

    @Test func lengthBodiesHeadAnswersAndNoContent() throws {
        #expect(
            try self.events(["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", "cd"])
                == [
                    .head(status: 200, headers: [("content-length", "4")], bodyless: false),
                    .body(ByteBuffer(string: "ab")), .body(ByteBuffer(string: "cd")), .end,
                ]
        )
        #expect(
            try self.events(["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"], head: true)
                == [.head(status: 200, headers: [("content-length", "4")], bodyless: true), .end]
        )
        #expect(
            try self.events(["HTTP/1.1 204 No Content\r\n\r\n"])
                == [.head(status: 204, headers: [], bodyless: true), .end]
        )
        // Nothing follows a complete response.
        #expect(try self.events(["HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"]).count == 2)
    }

    @Test func garbageAndEndlessLinesAreRefused() throws {
        #expect(throws: HTTP1ResponseDeframer.Malformed.self) { try self.events(["SSH-2.0\r\n\r\n"]) }
        #expect(throws: HTTP1ResponseDeframer.Malformed.self) {
            try self.events(["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
        }
        #expect(throws: HTTP1ResponseDeframer.Malformed.self) {
            try self.events(["HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 20_000)])
        }
    }

    @Test func theRequestBecomesOneHTTP1HeadWithItsAuthorityAsHost() throws {
        let headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "https", ":path": "/publish?name=a", ":authority": "river.test",
            "host": "other.test", "cookie": "a=1", "content-type": "text/plain", "cookie": "b=2",
            "expect": "100-continue",
        ]
        let head = try #require(HTTP2StreamBridge.http1Head(headers, endStream: false, allocator: .init()))
        #expect(
            String(buffer: head) == "POST /publish?name=a HTTP/1.1\r\nhost: river.test\r\ncontent-type: text/plain\r\n"
                + "expect: 100-continue\r\ncookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        // With no body to come, there is nothing to wait for.
        let bodyless = try #require(HTTP2StreamBridge.http1Head(headers, endStream: true, allocator: .init()))
        #expect(!String(buffer: bodyless).contains("expect"))
    }

    /// A chunk written in pieces (a JSONP message: prefix, JSON, suffix) is one
    /// DATA frame; `100 Continue` is an interim HEADERS frame.
    @Test func aChunkWrittenInPiecesIsOneFrameAndContinueIsInterim() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamBridge())
        let request: HPACKHeaders = [":method": "GET", ":scheme": "http", ":path": "/s", ":authority": "r"]
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: request, endStream: true)))
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n"))
        let interim = try #require(try channel.readOutbound(as: HTTP2Frame.FramePayload.self))
        guard case .headers(let continued) = interim else {
            Issue.record("expected HEADERS, got \(interim)")
            return
        }
        #expect(continued.headers.first(name: ":status") == "100" && !continued.endStream)
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        _ = try channel.readOutbound(as: HTTP2Frame.FramePayload.self)
        for piece in ["8\r\ncb(", "[1]", ");\r\n"] {
            try channel.writeOutbound(ByteBuffer(string: piece))
        }
        try channel.writeOutbound(ByteBuffer(string: "2\r\nab\r\n"))
        var frames: [String] = []
        while let frame = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) {
            if case .data(let data) = frame, case .byteBuffer(let bytes) = data.data {
                frames.append(String(buffer: bytes))
            }
        }
        #expect(frames == ["cb([1]);", "ab"])
        _ = try channel.finish()
    }

    /// A publish with only the fields a publish ignores skips the HTTP/1.1 text, and
    /// reads as the text would; any other field, or fields kept for `auth_url`, takes the text's way.
    @Test func aPlainPublishHeadIsTheTextsHead() throws {
        let limits = HTTPRequestParser.Limits()
        let plain: HPACKHeaders = [
            ":method": "GET", ":scheme": "http", ":path": "/publish?name=a&data=x", ":authority": "r",
            "accept": "text/event-stream", "accept-encoding": "gzip, deflate", "user-agent": "h2load nghttp2/1.52.0",
        ]
        let fast = try #require(HTTP2ConnectionHandler.plainPublishHead(plain, limits: limits))
        let text = try #require(HTTP2StreamBridge.http1Head(plain, endStream: true, allocator: .init()))
        let parsed = try HTTPRequestParser.parseHead(text, limits: limits)
        #expect(fast.method == parsed.method && fast.path == parsed.path && fast.query == parsed.query)
        #expect(fast.acceptsEventStream && parsed.acceptsEventStream && fast.keepAlive && !fast.isHTTP10)
        for (name, value) in [("origin", "https://a.test"), ("cookie", "s=1"), ("x-river-secret", "k")] {
            var other = plain
            other.add(name: name, value: value)
            #expect(HTTP2ConnectionHandler.plainPublishHead(other, limits: limits) == nil, "\(name)")
        }
        var kept = limits
        kept.keptFields = ["x-tenant"]
        #expect(HTTP2ConnectionHandler.plainPublishHead(plain, limits: kept) == nil)
        for path in ["/publish?name=a b", "/publish?name=\u{7F}", "/subscribe?name=a"] {
            var odd = plain
            odd.replaceOrAdd(name: ":path", value: path)
            #expect(HTTP2ConnectionHandler.plainPublishHead(odd, limits: limits) == nil, "\(path)")
        }
        var noAuthority = plain
        noAuthority.remove(name: ":authority")
        #expect(HTTP2ConnectionHandler.plainPublishHead(noAuthority, limits: limits) == nil)
    }

    /// Bytes that would end a field or the head early in HTTP/1.1 never reach the parser.
    @Test(arguments: [
        (":path", "/health HTTP/1.1\r\nX: y"), (":path", "/a b"), ("x-field", "a\r\nX-Injected: 1"),
        ("x-field", "a\u{0}b"), (":method", "GE T"), (":authority", "a\r\nb"),
    ])
    func fieldsThatWouldChangeMeaningAreRefused(name: String, value: String) throws {
        var headers: HPACKHeaders = [":method": "GET", ":scheme": "https", ":path": "/health", ":authority": "r"]
        headers.replaceOrAdd(name: name, value: value)
        #expect(HTTP2StreamBridge.http1Head(headers, endStream: true, allocator: .init()) == nil)
    }

    /// On an embedded stream: a request body without Content-Length goes on as chunks; the answer as frames.
    @Test func aStreamIsCarriedBothWays() throws {
        let channel = EmbeddedChannel(handler: HTTP2StreamBridge())
        let request: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": "/p", ":authority": "r"]
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: request)))
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(.init(string: "abc")))))
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(.init()), endStream: true)))
        var read = ""
        while let bytes = try channel.readInbound(as: ByteBuffer.self) { read += String(buffer: bytes) }
        #expect(read == "POST /p HTTP/1.1\r\nhost: r\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")

        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        guard case .headers(let head) = try #require(try channel.readOutbound(as: HTTP2Frame.FramePayload.self)),
            case .data(let body) = try #require(try channel.readOutbound(as: HTTP2Frame.FramePayload.self))
        else {
            Issue.record("expected HEADERS then DATA")
            return
        }
        #expect(head.headers.first(name: ":status") == "200" && !head.endStream)
        guard case .byteBuffer(let bytes) = body.data else {
            Issue.record("expected bytes")
            return
        }
        #expect(String(buffer: bytes) == "ok" && body.endStream)
        _ = try channel.finish()
    }
}
