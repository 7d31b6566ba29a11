import Foundation
import RiverTesting
import Testing

/// lib.js in a real headless Chromium, embedded exactly as the seed's snippet
/// shows, on a page from another origin than River; and the chat demo in two
/// windows. Needs chromium and chromium-driver (scripts/test installs them).
@Suite(.serialized) struct BrowserTests {
    /// The seed's "Embed in an HTML page" snippet (with its braces closed), after
    /// `prelude`, which can take transports away from the browser.
    static func embedPage(riverPort: Int, prelude: String) -> String {
        """
        <!doctype html>
        <html><head>
        <script>\(prelude)</script>
        <script type="text/javascript" src="http://127.0.0.1:\(riverPort)/lib.js"></script>
        <script type="text/javascript">
            document.domain = "";
            window.received = [];
            function onMsg(msg) {
                window.received.push(msg);
            }
            Comet.init(function() {
                var c = new Comet.Client();
                c.connect("public-channel", onMsg); // call onMsg upon reception of a message.
            });
        </script>
        </head><body>embedded</body></html>
        """
    }

    @Test(arguments: [
        ("websocket", ""),
        ("eventsource", "delete window.WebSocket; window.WebSocket = undefined;"),
        ("xhr-streaming", "window.WebSocket = undefined; window.EventSource = undefined;"),
        (
            "jsonp",
            "window.WebSocket = undefined; window.EventSource = undefined; window.Comet = {forceTransport: 'jsonp'};"
        ),
    ])
    func seedSnippetOnAnotherOriginReceivesMessages(transport: String, prelude: String) async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withServer { server in
            let pages = try TestPageServer(pages: [
                "/embed.html": Self.embedPage(riverPort: server.port, prelude: prelude)
            ])
            defer { pages.stop() }
            let browser = try WebDriver()
            try browser.open("http://127.0.0.1:\(pages.port)/embed.html")
            #expect(try browser.waitUntil("return window.Comet !== undefined && Comet.transport === '\(transport)';"))

            // The snippet subscribes live (no seq): publish until the first message lands...
            var warmups = 0
            while try browser.execute("return window.received.length;") as? Int == 0 && warmups < 100 {
                _ = try httpRequest(port: server.port, "GET", "/publish?name=public-channel&data=warm-up")
                warmups += 1
                usleep(100_000)
            }
            // ...then every message from here on must arrive once, in order, escaped text intact.
            let base = try browser.execute("return window.received[window.received.length - 1].seq;") as? Int ?? 0
            for index in 1...5 {
                _ = try httpRequest(
                    port: server.port,
                    "POST",
                    "/publish?name=public-channel",
                    headers: ["Content-Type: text/plain"],
                    body: "message \(index) \"quoted\" é\n"
                )
            }
            #expect(
                try browser.waitUntil(
                    "return window.received.filter(function (m) { return m.seq > \(base); }).length >= 5;"
                )
            )
            let tail =
                try browser.execute(
                    "return window.received.filter(function (m) { return m.seq > \(base); }).map(function (m) { return m.seq + ':' + m.data; });"
                ) as? [String]
            #expect(tail == (1...5).map { "\(base + $0):message \($0) \"quoted\" é\n" })
            #expect(try browser.execute("return window.received[0].channel;") as? String == "public-channel")
        }
    }

    /// Streams end every second (`client_timeout`); lib.js reconnects and
    /// resumes from the last seq while messages keep coming: every message
    /// arrives once, in order.
    @Test(arguments: [
        ("websocket", ""),
        ("eventsource", "window.WebSocket = undefined;"),
        ("xhr-streaming", "window.WebSocket = undefined; window.EventSource = undefined;"),
        ("jsonp", "window.Comet = {forceTransport: 'jsonp'};"),
    ])
    func reconnectsLoseAndDuplicateNothing(transport: String, prelude: String) async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withServer(configured { $0.clientTimeout = .seconds(1) }) { server in
            let page = Self.embedPage(
                riverPort: server.port,
                prelude: prelude + " window.Comet = window.Comet || {}; window.Comet.minDelay = 50;"
            )
            let pages = try TestPageServer(pages: ["/embed.html": page])
            defer { pages.stop() }
            let browser = try WebDriver()
            try browser.open("http://127.0.0.1:\(pages.port)/embed.html")
            #expect(try browser.waitUntil("return window.Comet !== undefined && Comet.transport === '\(transport)';"))
            while try browser.execute("return window.received.length;") as? Int == 0 {
                _ = try httpRequest(port: server.port, "GET", "/publish?name=public-channel&data=warm-up")
                usleep(100_000)
            }
            let base = try browser.execute("return window.received[window.received.length - 1].seq;") as? Int ?? 0
            let count = 60
            for index in 1...count {  // about three seconds: several reconnects
                _ = try httpRequest(port: server.port, "GET", "/publish?name=public-channel&data=n\(index)")
                usleep(50_000)
            }
            #expect(
                try browser.waitUntil(
                    "return window.received.filter(function (m) { return m.seq > \(base); }).length >= \(count);"
                )
            )
            let tail =
                try browser.execute(
                    "return window.received.filter(function (m) { return m.seq > \(base); }).map(function (m) { return m.seq + ':' + m.data; });"
                ) as? [String]
            #expect(tail == (1...count).map { "\(base + $0):n\($0)" })
        }
    }

    /// The server restarts (its history and seqs start over): lib.js resumes
    /// with its epoch, River answers with a reset and the new history, and
    /// nothing published after the restart is missed.
    @Test func serverRestartIsDetectedAndTheNewHistoryReplayed() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        let first = try await TestServer.start()
        let port = first.port
        let pages = try TestPageServer(pages: [
            "/embed.html": Self.embedPage(riverPort: port, prelude: "window.Comet = {minDelay: 50};")
        ])
        defer { pages.stop() }
        let browser = try WebDriver()
        try browser.open("http://127.0.0.1:\(pages.port)/embed.html")
        #expect(try browser.waitUntil("return window.Comet !== undefined && Comet.transport === 'websocket';"))
        while try browser.execute("return window.received.length;") as? Int == 0 {
            _ = try httpRequest(port: port, "GET", "/publish?name=public-channel&data=before")
            usleep(100_000)
        }
        await first.stop()
        let second = try await TestServer.start(threads: 2, configured { $0.port = port })
        _ = try httpRequest(port: port, "GET", "/publish?name=public-channel&data=after-1")
        _ = try httpRequest(port: port, "GET", "/publish?name=public-channel&data=after-2")
        #expect(
            try browser.waitUntil(
                "return window.received.filter(function (m) { return m.data.indexOf('after') === 0; }).length >= 2;"
            )
        )
        let after =
            try browser.execute(
                "return window.received.filter(function (m) { return m.data.indexOf('after') === 0; }).map(function (m) { return m.seq + ':' + m.data; });"
            ) as? [String]
        #expect(after == ["1:after-1", "2:after-2"])
        await second.stop()
    }

    /// lib.js with `format` ("river" or "raw"): each message as `text:DATA`,
    /// or `bytes:B,B,...` when `data` is an ArrayBuffer.
    static func formatPage(riverPort: Int, prelude: String, format: String) -> String {
        """
        <!doctype html>
        <html><head>
        <script>\(prelude)</script>
        <script type="text/javascript" src="http://127.0.0.1:\(riverPort)/lib.js"></script>
        <script type="text/javascript">
            window.received = [];
            Comet.init(function() {
                new Comet.Client({format: "\(format)"}).connect("bytes", function (m) {
                    window.received.push(typeof m.data === "string" ? "text:" + m.data
                        : "bytes:" + Array.prototype.join.call(new Uint8Array(m.data), ","));
                });
            });
        </script>
        </head><body>format</body></html>
        """
    }

    /// A binary message reaches lib.js as an ArrayBuffer of its bytes, from
    /// base64 (river JSON, SSE) or a binary frame (raw WebSocket); text stays
    /// text, raw or not.
    @Test(arguments: [
        ("websocket", "river", ""),
        ("eventsource", "river", "delete window.WebSocket; window.WebSocket = undefined;"),
        ("websocket", "raw", ""),
        ("eventsource", "raw", "delete window.WebSocket; window.WebSocket = undefined;"),
    ])
    func binaryMessagesArriveAsArrayBuffers(transport: String, format: String, prelude: String) async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withServer { server in
            let pages = try TestPageServer(pages: [
                "/format.html": Self.formatPage(riverPort: server.port, prelude: prelude, format: format)
            ])
            defer { pages.stop() }
            let browser = try WebDriver()
            try browser.open("http://127.0.0.1:\(pages.port)/format.html")
            #expect(try browser.waitUntil("return window.Comet !== undefined && Comet.transport === '\(transport)';"))
            // Live only: publish until the first message lands.
            var warmups = 0
            while try browser.execute("return window.received.length;") as? Int == 0 && warmups < 100 {
                _ = try httpRequest(port: server.port, "GET", "/publish?name=bytes&data=warm-up")
                warmups += 1
                usleep(100_000)
            }
            let connection = try SocketConnection(port: server.port)
            defer { connection.close() }
            try connection.sendRequest(
                "POST",
                "/publish?name=bytes",
                headers: ["Content-Type: application/octet-stream"],
                bodyBytes: [0x00, 0xFF, 0xC3, 0x28, 0x0A]
            )
            #expect(try connection.readResponse().status == 200)
            _ = try httpRequest(port: server.port, "GET", "/publish?name=bytes&data=after")
            #expect(try browser.waitUntil("return window.received[window.received.length - 1] === 'text:after';"))
            let tail = try browser.execute("return window.received.slice(-2);") as? [String]
            #expect(tail == ["bytes:0,255,195,40,10", "text:after"], "\(transport), \(format)")
        }
    }

    @Test func twoWindowsChatAndALateJoinerSeesHistory() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withServer { server in
            let browser = try WebDriver()
            let chat = "http://127.0.0.1:\(server.port)/chat"
            try browser.open(chat)
            let alice = try browser.currentWindow()
            try browser.type("alice", into: "#name")
            try browser.click("#join")
            let bob = try browser.newWindow()
            try browser.open(chat)
            try browser.type("bob", into: "#name")
            try browser.click("#join")

            try browser.switchTo(alice)
            try browser.type("hello from alice", into: "#message")
            try browser.click("#send")
            try browser.switchTo(bob)
            #expect(
                try browser.waitUntil(
                    "return document.querySelector('#log').textContent.indexOf('hello from alice') >= 0;"
                )
            )
            try browser.type("hi alice, bob here", into: "#message")
            try browser.click("#send")
            try browser.switchTo(alice)
            #expect(
                try browser.waitUntil(
                    "return document.querySelector('#log').textContent.indexOf('hi alice, bob here') >= 0;"
                )
            )

            _ = try browser.newWindow()
            try browser.open(chat)
            try browser.type("carol", into: "#name")
            try browser.click("#join")
            #expect(
                try browser.waitUntil(
                    "var log = document.querySelector('#log').textContent; return log.indexOf('hello from alice') >= 0 && log.indexOf('hi alice, bob here') >= 0;"
                )
            )
        }
    }
}
