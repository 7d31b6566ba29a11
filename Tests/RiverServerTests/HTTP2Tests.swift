import RiverTesting
import Testing

@testable import RiverServer

/// HTTP/2: every transport on streams of one connection, through the same
/// dispatcher and subscribers as HTTP/1.1; the settings River announces;
/// streams beyond `max_concurrent_streams`; rapid reset; a malformed request
/// reset alone; a slow stream cut
/// while its sibling goes on; nothing a stream made outlives it.
/// h2c by prior knowledge in-process and live; over TLS in `TLSHTTP2Tests`.
@Suite struct HTTP2Tests {
    static let cleartext = configured { $0.http2Cleartext = true }

    /// Every transport on one connection: SSE, streaming, publish, long-poll, JSONP, admin, static files, HEAD.
    @Test(arguments: TestRiver.Mode.allCases)
    func everyTransportOnStreamsOfOneConnection(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, Self.cleartext) { river in
            try await Self.everyTransport(try await river.connectHTTP2())
        }
    }

    /// The exchange of `everyTransportOnStreamsOfOneConnection`, for TLS too.
    static func everyTransport(_ h2: TestHTTP2Connection) async throws {
        try await h2.request(stream: 1, "GET", "/sse?name=feed&hello=1")
        let sse = try await h2.head(stream: 1)
        #expect(sse.status == 200)
        #expect(sse.headers.contains { $0 == ("content-type", "text/event-stream; charset=utf-8") })
        #expect(!sse.headers.contains { $0.0 == "transfer-encoding" || $0.0 == "connection" })
        _ = try await h2.data(stream: 1, containing: "event: live")
        try await h2.request(stream: 3, "GET", "/subscribe?name=feed&hello=1")
        #expect(try await h2.head(stream: 3).status == 200)
        _ = try await h2.data(stream: 3, containing: "[\"live\"")

        try await h2.request(
            stream: 5,
            "POST",
            "/publish?name=feed",
            headers: [("content-type", "text/plain")],
            body: "hello"
        )
        let published = try await h2.response(stream: 5)
        #expect(published.status == 200)
        #expect(published.body.contains("{\"channel\": \"feed\", \"seq\": 1}"), "\(published.body)")
        let message = riverMessage("feed", 1, "\"hello\"")
        _ = try await h2.data(stream: 1, containing: "id: 1\ndata: hello\n\n")
        let streamed = try await h2.data(stream: 3, containing: message)
        #expect(
            !streamed.contains("\r\n" + String(message.utf8.count, radix: 16)),
            "chunk framing stays off the stream"
        )

        try await h2.request(stream: 7, "GET", "/subscribe?name=feed&seq=0&keep=0")
        #expect(try await h2.response(stream: 7).body == message)
        try await h2.request(stream: 9, "GET", "/subscribe?name=feed&seq=0&keep=0&callback=show")
        #expect(try await h2.response(stream: 9).body == "show(\(message));\r\n")
        try await h2.request(stream: 11, "GET", "/channels/feed")
        let channel = try await h2.response(stream: 11)
        #expect(channel.status == 200)
        #expect(channel.body.contains("\"subscribers\": 2"), "\(channel.body)")
        try await h2.request(stream: 13, "GET", "/lib.js")
        let lib = try await h2.response(stream: 13)
        #expect(lib.status == 200)
        #expect(lib.header("content-length") == String(lib.body.utf8.count))
        try await h2.request(stream: 15, "HEAD", "/health")
        let head = try await h2.response(stream: 15)
        #expect(head.status == 200 && head.body.isEmpty)
        try await h2.request(stream: 17, "GET", "/publish?name=feed&data=%")
        #expect(try await h2.response(stream: 17).status == 400)
        await h2.close()
    }

    /// The reason for HTTP/2 in a browser: past six subscriptions to one origin.
    @Test func twelveEventStreamsOnOneConnection() async throws {
        try await withRiver(Self.cleartext) { river in
            let h2 = try await river.connectHTTP2()
            let streams = (0..<12).map { UInt32(2 * $0 + 1) }
            for stream in streams {
                try await h2.request(stream: stream, "GET", "/sse?name=c\(stream)&name=all&hello=1")
            }
            for stream in streams {
                #expect(try await h2.head(stream: stream).status == 200)
                _ = try await h2.data(stream: stream, containing: "event: live")
            }
            _ = try await river.publish("all", "to every stream")
            for stream in streams {
                _ = try await h2.data(stream: stream, containing: "\"data\": \"to every stream\"")
            }
            await h2.close()
        }
    }

    /// A client past the announced `max_concurrent_streams` (once it has
    /// acknowledged it) loses the connection: swift-nio-http2 answers GOAWAY PROTOCOL_ERROR.
    /// (Live too: the GOAWAY must reach the socket before the close does.)
    @Test(arguments: TestRiver.Mode.allCases)
    func settingsAnnounceTheLimitsAndAStreamPastThemEndsTheConnection(_ mode: TestRiver.Mode) async throws {
        let configuration = configured {
            $0.http2Cleartext = true
            $0.maxConcurrentStreams = 3
        }
        try await withRiver(mode, configuration) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.awaitSettings()
            #expect(h2.serverSettings[0x3] == 3, "SETTINGS_MAX_CONCURRENT_STREAMS")
            #expect(h2.serverSettings[0x6] == 16384, "SETTINGS_MAX_HEADER_LIST_SIZE: the HTTP/1.1 parser's limit")
            #expect(h2.serverSettings[0x8] == 1, "SETTINGS_ENABLE_CONNECT_PROTOCOL: WebSockets on streams (RFC 8441)")
            for stream: UInt32 in [1, 3, 5] {
                try await h2.request(stream: stream, "GET", "/subscribe?name=s\(stream)&hello=1")
                #expect(try await h2.head(stream: stream).status == 200)
            }
            try await h2.request(stream: 7, "GET", "/subscribe?name=s7&hello=1")
            let goAway = try await h2.nextFrame(on: 0, ofType: TestHTTP2Connection.FrameType.goAway)
            #expect(Array(goAway.payload[4..<8]) == [0, 0, 0, 0x1], "PROTOCOL_ERROR")
            #expect(try await h2.connection.waitForClose())
        }
    }

    /// A stream whose window never opens is cut (its backlog passed
    /// `max_subscriber_backlog`) while a sibling stream on the same connection
    /// receives every message.
    @Test(arguments: TestRiver.Mode.allCases)
    func aSlowStreamIsCutWithoutStallingItsSibling(_ mode: TestRiver.Mode) async throws {
        let configuration = configured {
            $0.http2Cleartext = true
            $0.maxSubscriberBacklog = 16 * 1024
        }
        try await withRiver(mode, configuration) { river in
            // SETTINGS_INITIAL_WINDOW_SIZE 0: no stream may send DATA until its window is opened.
            let h2 = try await river.connectHTTP2(settings: [(0x4, 0)])
            try await h2.windowUpdate(stream: 0, increment: 1 << 30)
            try await h2.request(stream: 1, "GET", "/subscribe?name=flood&format=raw&hello=1")
            try await h2.request(stream: 3, "GET", "/subscribe?name=flood&format=raw&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            #expect(try await h2.head(stream: 3).status == 200)
            try await h2.windowUpdate(stream: 3, increment: 1 << 30)
            _ = try await h2.data(stream: 3, containing: "\"live\"")
            // Each message is read off the sibling before the next is published: the
            // connection itself never backs up, only stream 1's window is shut.
            let payload = String(repeating: "x", count: 2000)
            let count = 100
            var received = 0
            for index in 1...count {
                _ = try await river.publish("flood", payload)
                while received < index * payload.utf8.count {
                    received += try await h2.data(stream: 3).filter { $0 == "x" }.count
                }
            }
            #expect(received == count * payload.utf8.count)
            let cut = try await h2.nextFrame(on: 1)
            #expect(cut.type == TestHTTP2Connection.FrameType.rstStream, "the slow stream is reset")
            try await h2.request(stream: 5, "GET", "/health")
            try await h2.windowUpdate(stream: 5, increment: 1 << 20)  // (every stream's window starts shut here)
            #expect(try await h2.response(stream: 5).status == 200, "the connection goes on")
            await h2.close()
        }
    }

    /// Each stream's bridge, handler and subscriber are freed when the stream
    /// closes, while the connection stays open; the rest when it closes.
    @Test func nothingAStreamMadeOutlivesIt() async throws {
        let probe = LifetimeProbe()
        try await withRiver(.live, Self.cleartext, lifetimeObserver: probe) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.request(stream: 1, "GET", "/sse?name=life&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            _ = try await h2.data(stream: 1, containing: "event: live")
            try await h2.request(stream: 3, "GET", "/health")
            _ = try await h2.response(stream: 3)
            try await h2.reset(stream: 1)
            try await h2.request(stream: 5, "GET", "/health")
            _ = try await h2.response(stream: 5)
            try await eventually("the closed streams' objects are freed: \(probe.survivors)") {
                Self.onlyTheConnectionIsAlive(probe.survivors)
            }
            await h2.close()
            try await eventually("everything is freed: \(probe.survivors)") { probe.survivors.isEmpty }
            let made = probe.trackedKinds
            #expect(made["HTTP2StreamBridge"] == 3 && made["StreamSubscriber"] == 1, "\(made)")
            #expect(made["ProtocolSelector"] == 1 && made["HTTP2ConnectionHandler"] == 1, "\(made)")
        }
    }

    /// An answer given before the request's body came (a 413) is whole before the stream's
    /// reset; with the peer's window shut its body cannot go, and the reset waits no longer
    /// than `HTTP2StreamBridge.closeWait` for it. Either way the stream's objects are freed.
    @Test func anEarlyAnswerIsWholeBeforeTheResetAndWaitsABoundedTime() async throws {
        let probe = LifetimeProbe()
        let configuration = configured {
            $0.http2Cleartext = true
            $0.maxMessageSize = 100
        }
        /// A publish announcing a body over the limit, the body not sent.
        func announceTooMuch(on connection: TestHTTP2Connection) async throws {
            let headers = [("content-length", "100000000")]
            try await connection.request(stream: 1, "POST", "/publish?name=x", headers: headers, open: true)
        }
        try await withRiver(.inProcess, configuration, lifetimeObserver: probe) { river in
            let h2 = try await river.connectHTTP2()
            try await announceTooMuch(on: h2)
            let early = try await h2.response(stream: 1)
            #expect(early.status == 413 && early.body.hasPrefix("request body is larger than"), "\(early.body)")
            #expect(try await h2.nextFrame(on: 1).type == TestHTTP2Connection.FrameType.rstStream)

            let shut = try await river.connectHTTP2(settings: [(0x4, 0)])
            try await announceTooMuch(on: shut)
            #expect(try await shut.head(stream: 1).status == 413)
            #expect(try await shut.connection.unreadBytesNow() == [], "the body waits for a window; the reset for it")
            await river.advance(by: HTTP2StreamBridge.closeWait)
            #expect(try await shut.nextFrame(on: 1).type == TestHTTP2Connection.FrameType.rstStream)
            try await eventually("the streams' objects are freed: \(probe.survivors)") {
                probe.survivors["HTTP2StreamBridge"] == nil && probe.survivors["HTTPConnectionHandler"] == nil
            }
        }
    }

    /// A publish whose HEADERS end its stream is answered by the connection's handler, with no
    /// stream channel, bridge or handler made for it, and answered as HTTP/1.1 answers it:
    /// seq, refusals with their reason, the secret, CORS. A publish with a body goes to a stream
    /// of its own as before.
    @Test(arguments: TestRiver.Mode.allCases)
    func aPublishIsAnsweredWithoutAStreamOfItsOwn(_ mode: TestRiver.Mode) async throws {
        let probe = LifetimeProbe()
        let configuration = configured {
            $0.http2Cleartext = true
            $0.publishSecret = Secret("s3cret")
            $0.allowedOrigins = try! CORSPolicy("https://app.example")
        }
        try await withRiver(mode, configuration, lifetimeObserver: probe) { river in
            try await Self.publishesAnsweredOnTheConnection(try await river.connectHTTP2(), probe)
            try await eventually("everything is freed: \(probe.survivors)") { probe.survivors.isEmpty }
        }
    }

    /// The exchange of `aPublishIsAnsweredWithoutAStreamOfItsOwn` (the connection is released when it returns).
    static func publishesAnsweredOnTheConnection(_ h2: TestHTTP2Connection, _ probe: LifetimeProbe) async throws {
        try await h2.request(stream: 1, "GET", "/publish?name=direct&data=one&secret=s3cret")
        let published = try await h2.response(stream: 1)
        #expect(published.status == 200 && published.body == "{\"channel\": \"direct\", \"seq\": 1}")
        #expect(published.header("content-length") == String(published.body.utf8.count))
        #expect(published.header("content-type") == "application/json", "\(published.headers)")
        try await h2.request(stream: 3, "GET", "/publish?name=direct&data=two")
        let refused = try await h2.response(stream: 3)
        #expect(refused.status == 401 && refused.body == "publishing needs the publish secret or a token\n")
        try await h2.request(
            stream: 5,
            "GET",
            "/publish?name=direct&data=three&secret=s3cret",
            headers: [("origin", "https://app.example")]
        )
        let crossOrigin = try await h2.response(stream: 5)
        #expect(crossOrigin.body.contains("\"seq\": 2"), "\(crossOrigin.body)")
        #expect(crossOrigin.header("access-control-allow-origin") == "https://app.example")
        try await h2.request(
            stream: 7,
            "GET",
            "/publish?name=direct&data=x&secret=s3cret",
            headers: [("origin", "https://evil.example")]
        )
        #expect(try await h2.response(stream: 7).status == 403)
        try await h2.request(stream: 9, "GET", "/publish?name=&data=x&secret=s3cret")
        let unnamed = try await h2.response(stream: 9)
        #expect(unnamed.status == 400 && unnamed.body.contains("channel name is empty"), "\(unnamed.body)")
        #expect(probe.trackedKinds["HTTP2StreamBridge"] == nil, "no stream channel yet: \(probe.trackedKinds)")

        try await h2.request(
            stream: 11,
            "POST",
            "/publish?name=direct&secret=s3cret",
            headers: [("content-type", "text/plain")],
            body: "four"
        )
        #expect(try await h2.response(stream: 11).body.contains("\"seq\": 3"))
        #expect(probe.trackedKinds["HTTP2StreamBridge"] == 1, "a body: a stream of its own")
        try await h2.request(stream: 13, "GET", "/subscribe?name=direct&seq=0&keep=0")
        let history = try await h2.response(stream: 13)
        #expect(history.body.contains("one") && history.body.contains("three") && history.body.contains("four"))
        #expect(!history.body.contains("two") && !history.body.contains("\"x\""), "\(history.body)")
        await h2.close()
    }

    /// A malformed request (RFC 9113 sections 8.2 and 8.3: a connection-specific field,
    /// `te` other than `trailers`, an upper-case name, CR in a value, a pseudo-header after a
    /// field, a pseudo-header in trailers, a body shorter than its `content-length`) ends its
    /// own stream with RST_STREAM PROTOCOL_ERROR; the connection and its other streams go on.
    @Test(arguments: TestRiver.Mode.allCases)
    func aMalformedRequestResetsOnlyItsStream(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, Self.cleartext) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.request(stream: 1, "GET", "/sse?name=sibling&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            _ = try await h2.data(stream: 1, containing: "event: live")
            let malformed: [[(String, String)]] = [
                [("connection", "close")], [("te", "gzip")], [("X-Upper", "1")], [("x-note", "a\rb")],
                [("accept", "*/*"), (":protocol", "websocket")],
            ]
            for (index, fields) in malformed.enumerated() {
                let stream = UInt32(3 + 2 * index)
                try await h2.request(stream: stream, "GET", "/publish?name=sibling&data=no", headers: fields)
                let reset = try await h2.nextFrame(on: stream)
                #expect(reset.type == TestHTTP2Connection.FrameType.rstStream, "\(fields)")
                #expect(reset.payload == [0, 0, 0, 0x1], "PROTOCOL_ERROR")
            }
            try await h2.request(stream: 13, "GET", "/publish?name=sibling&data=yes")
            #expect(try await h2.response(stream: 13).status == 200)
            #expect(try await h2.data(stream: 1, containing: "yes").contains("id: 1"), "the sibling stream goes on")
            // A body shorter than its content-length: reset, and nothing of it published.
            try await h2.request(
                stream: 15,
                "POST",
                "/publish?name=sibling",
                headers: [("content-length", "10")],
                body: "short"
            )
            let cut = try await h2.nextFrame(on: 15, ofType: TestHTTP2Connection.FrameType.rstStream)
            #expect(cut.payload == [0, 0, 0, 0x1], "PROTOCOL_ERROR")
            // Trailers holding a pseudo-header: reset, and the body before them not published.
            try await h2.request(
                stream: 17,
                "POST",
                "/publish?name=sibling",
                headers: [("content-type", "text/plain")],
                open: true
            )
            try await h2.send(
                type: TestHTTP2Connection.FrameType.data,
                flags: 0,
                stream: 17,
                payload: Array("trailed".utf8)
            )
            try await h2.sendHeaders(stream: 17, [(":path", "/publish?name=other")], endStream: true)
            let trailed = try await h2.nextFrame(on: 17, ofType: TestHTTP2Connection.FrameType.rstStream)
            #expect(trailed.payload == [0, 0, 0, 0x1], "PROTOCOL_ERROR")
            try await h2.request(stream: 19, "GET", "/publish?name=sibling&data=again")
            #expect(try await h2.response(stream: 19).body.contains("\"seq\": 2"))
            #expect(try await river.request("GET", "/stats").body.contains("\"bad_requests\": 7"))
        }
    }

    /// `keep_alive_timeout` ends an HTTP/2 connection only once it has had no open stream for
    /// that long (GOAWAY NO_ERROR, then close): a connection holding an SSE stream stays.
    @Test func keepAliveCountsOnlyWhileNoStreamIsOpen() async throws {
        let configuration = configured {
            $0.http2Cleartext = true
            $0.keepAliveTimeout = .seconds(5)
        }
        try await withRiver(.inProcess, configuration) { river in
            let h2 = try await river.connectHTTP2()
            try await h2.request(stream: 1, "GET", "/sse?name=kept&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            _ = try await h2.data(stream: 1, containing: "event: live")
            await river.advance(by: .seconds(20))
            try await river.publish("kept", "still here")
            #expect(try await h2.data(stream: 1, containing: "still here").contains("id: 1"), "the stream goes on")

            try await h2.reset(stream: 1)
            try await h2.request(stream: 3, "GET", "/health")
            #expect(try await h2.response(stream: 3).status == 200)
            await river.advance(by: .seconds(20))
            let goAway = try await h2.nextFrame(on: 0, ofType: TestHTTP2Connection.FrameType.goAway)
            #expect(Array(goAway.payload[4..<8]) == [0, 0, 0, 0], "NO_ERROR, once idle")
            #expect(try await h2.connection.waitForClose())
        }
    }

    static func onlyTheConnectionIsAlive(_ alive: [String: Int]) -> Bool {
        alive["HTTP2StreamBridge"] == nil && alive["StreamSubscriber"] == nil && alive["HTTP2ConnectionHandler"] == 1
    }

    @Test func withoutCleartextHTTP2ThePrefaceIsRefused() async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            try await connection.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            #expect(try await connection.readResponse().status == 505)
        }
    }
}
