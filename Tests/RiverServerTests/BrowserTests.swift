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
        try await withRiver(.live) { river in
            let pages = try TestPageServer(pages: [
                "/embed.html": Self.embedPage(riverPort: river.port, prelude: prelude)
            ])
            defer { pages.stop() }
            try await WebDriver.with { browser in
                try await browser.open("http://127.0.0.1:\(pages.port)/embed.html")
                #expect(
                    try await browser.waitUntil(
                        "return window.Comet !== undefined && Comet.transport === '\(transport)';"
                    )
                )
                // The snippet subscribes live (no seq): publish until the first message lands...
                let base = try await Self.baseAfterWarmUps(browser, river: river)
                // ...then every message from here on must arrive once, in order, escaped text intact.
                for index in 1...5 {
                    _ = try await river.request(
                        "POST",
                        "/publish?name=public-channel",
                        headers: ["Content-Type: text/plain"],
                        body: "message \(index) \"quoted\" é\n"
                    )
                }
                #expect(
                    try await browser.waitUntil(
                        "return window.received.filter(function (m) { return m.seq > \(base); }).length >= 5;"
                    )
                )
                let tail =
                    try await browser.execute(
                        "return window.received.filter(function (m) { return m.seq > \(base); }).map(function (m) { return m.seq + ':' + m.data; });"
                    ) as? [String]
                #expect(tail == (1...5).map { "\(base + $0):message \($0) \"quoted\" é\n" })
                #expect(try await browser.execute("return window.received[0].channel;") as? String == "public-channel")
            }
        }
    }

    /// Publishes a warm-up every 100 ms until the page has received one: lib.js subscribes live
    /// (no seq), and nothing but a message that arrives says its subscription is in place.
    /// Returns the seq of the last warm-up published (more may be on their way to the page).
    @discardableResult
    static func warmUp(_ browser: WebDriver, river: TestRiver, channel: String) async throws -> Int {
        var last = 0
        try await eventually("the page receives a warm-up", timeout: .seconds(60), interval: .milliseconds(100)) {
            last = try await river.publish(channel, "warm-up")
            return (try await browser.execute("return window.received.length;") as? Int ?? 0) > 0
        }
        return last
    }

    /// The seq after which the test's own messages come: the page has every warm-up by then.
    static func baseAfterWarmUps(_ browser: WebDriver, river: TestRiver) async throws -> Int {
        let last = try await Self.warmUp(browser, river: river, channel: "public-channel")
        #expect(try await browser.waitUntil("return window.received.some(function (m) { return m.seq >= \(last); });"))
        return last
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
        try await withRiver(.live, configured { $0.clientTimeout = .seconds(1) }) { river in
            let page = Self.embedPage(
                riverPort: river.port,
                prelude: prelude + " window.Comet = window.Comet || {}; window.Comet.minDelay = 50;"
            )
            let pages = try TestPageServer(pages: ["/embed.html": page])
            defer { pages.stop() }
            try await WebDriver.with { browser in
                try await browser.open("http://127.0.0.1:\(pages.port)/embed.html")
                #expect(
                    try await browser.waitUntil(
                        "return window.Comet !== undefined && Comet.transport === '\(transport)';"
                    )
                )
                let base = try await Self.baseAfterWarmUps(browser, river: river)
                let count = 60
                for index in 1...count {
                    _ = try await river.request("GET", "/publish?name=public-channel&data=n\(index)")
                    try await Task.sleep(for: .milliseconds(50))  // (pacing: about three seconds, several reconnects)
                }
                #expect(
                    try await browser.waitUntil(
                        "return window.received.filter(function (m) { return m.seq > \(base); }).length >= \(count);"
                    )
                )
                let tail =
                    try await browser.execute(
                        "return window.received.filter(function (m) { return m.seq > \(base); }).map(function (m) { return m.seq + ':' + m.data; });"
                    ) as? [String]
                #expect(tail == (1...count).map { "\(base + $0):n\($0)" })
            }
        }
    }

    /// The server restarts (its history and seqs start over): lib.js resumes
    /// with its epoch, River answers with a reset and the new history, and
    /// nothing published after the restart is missed.
    @Test func serverRestartIsDetectedAndTheNewHistoryReplayed() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        let first = try await TestRiver.start(.live)
        let port = first.port
        let pages = try TestPageServer(pages: [
            "/embed.html": Self.embedPage(riverPort: port, prelude: "window.Comet = {minDelay: 50};")
        ])
        defer { pages.stop() }
        try await WebDriver.with { browser in
            do {
                try await browser.open("http://127.0.0.1:\(pages.port)/embed.html")
                #expect(
                    try await browser.waitUntil("return window.Comet !== undefined && Comet.transport === 'websocket';")
                )
                try await Self.warmUp(browser, river: first, channel: "public-channel")
            } catch {
                await first.stop()
                throw error
            }
            await first.stop()
            try await withRiver(.live, configured { $0.port = port }) { second in
                _ = try await second.request("GET", "/publish?name=public-channel&data=after-1")
                _ = try await second.request("GET", "/publish?name=public-channel&data=after-2")
                #expect(
                    try await browser.waitUntil(
                        "return window.received.filter(function (m) { return m.data.indexOf('after') === 0; }).length >= 2;"
                    )
                )
                let after =
                    try await browser.execute(
                        "return window.received.filter(function (m) { return m.data.indexOf('after') === 0; }).map(function (m) { return m.seq + ':' + m.data; });"
                    ) as? [String]
                #expect(after == ["1:after-1", "2:after-2"])
            }
        }
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
        try await withRiver(.live) { river in
            let pages = try TestPageServer(pages: [
                "/format.html": Self.formatPage(riverPort: river.port, prelude: prelude, format: format)
            ])
            defer { pages.stop() }
            try await WebDriver.with { browser in
                try await browser.open("http://127.0.0.1:\(pages.port)/format.html")
                #expect(
                    try await browser.waitUntil(
                        "return window.Comet !== undefined && Comet.transport === '\(transport)';"
                    )
                )
                // Live only: publish until the first message lands.
                try await Self.warmUp(browser, river: river, channel: "bytes")
                let binary = try await river.request(
                    "POST",
                    "/publish?name=bytes",
                    headers: ["Content-Type: application/octet-stream"],
                    bodyBytes: [0x00, 0xFF, 0xC3, 0x28, 0x0A]
                )
                #expect(binary.status == 200)
                _ = try await river.request("GET", "/publish?name=bytes&data=after")
                #expect(
                    try await browser.waitUntil("return window.received[window.received.length - 1] === 'text:after';")
                )
                let tail = try await browser.execute("return window.received.slice(-2);") as? [String]
                #expect(tail == ["bytes:0,255,195,40,10", "text:after"], "\(transport), \(format)")
            }
        }
    }

    @Test func twoWindowsChatAndALateJoinerSeesHistory() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live) { river in
            try await WebDriver.with { browser in
                let chat = "http://127.0.0.1:\(river.port)/chat"
                let (alice, bob) = try await browser.joinChatAsAliceAndBob(chat)

                try await browser.switchTo(alice)
                try await browser.type("hello from alice", into: "#message")
                try await browser.click("#send")
                try await browser.switchTo(bob)
                #expect(
                    try await browser.waitUntil(
                        "return document.querySelector('#log').textContent.indexOf('hello from alice') >= 0;"
                    )
                )
                try await browser.type("hi alice, bob here", into: "#message")
                try await browser.click("#send")
                try await browser.switchTo(alice)
                #expect(
                    try await browser.waitUntil(
                        "return document.querySelector('#log').textContent.indexOf('hi alice, bob here') >= 0;"
                    )
                )

                _ = try await browser.newWindow()
                try await browser.open(chat)
                try await browser.type("carol", into: "#name")
                try await browser.click("#join")
                #expect(
                    try await browser.waitUntil(
                        "var log = document.querySelector('#log').textContent; return log.indexOf('hello from alice') >= 0 && log.indexOf('hi alice, bob here') >= 0;"
                    )
                )
            }
        }
    }
}
