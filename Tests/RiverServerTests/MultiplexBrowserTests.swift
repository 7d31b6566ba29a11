import Foundation
import RiverTesting
import Testing

/// lib.js on one `river.v2` WebSocket in a real headless Chromium: a page
/// following more channels than the browser's six connections per origin,
/// presence between two windows, and the chat demo switching rooms on its
/// one connection. Needs chromium and chromium-driver (scripts/test installs them).
@Suite(.serialized) struct MultiplexBrowserTests {
    static let presence = configured {
        $0.presenceSelfNames = true
        $0.presenceLeaveDelay = .milliseconds(300)
    }

    /// A page on another origin whose one client follows `channels` from seq 0, as `user` when given.
    static func page(riverPort: Int, channels: [String], prelude: String = "") -> String {
        let list = channels.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
            <!doctype html>
            <html><head>
            <script>\(prelude)</script>
            <script src="http://127.0.0.1:\(riverPort)/lib.js"></script>
            <script>
                var params = new URLSearchParams(location.search);
                window.received = [];
                window.events = [];
                Comet.init(function () {
                    window.client = new Comet.Client({presence: true, user: params.get("user")});
                    client.onJoin = function (e) { window.events.push("join:" + e.channel + ":" + e.user); };
                    client.onLeave = function (e) { window.events.push("leave:" + e.channel + ":" + e.user); };
                    [\(list)].forEach(function (name) {
                        client.connect(name, function (m) { window.received.push(m.channel + ":" + m.seq + ":" + m.data); }, 0);
                    });
                });
            </script>
            </head><body>multiplexed</body></html>
            """
    }

    func stats(_ river: TestRiver) async throws -> String {
        try await river.request("GET", "/stats").body
    }

    /// Publishes `before` to each of `channels`, then opens `Self.page` following them (after
    /// `prelude`) in a fresh browser. The caller stops the page server.
    func openPage(
        _ river: TestRiver,
        following channels: [String],
        prelude: String = ""
    ) async throws -> (WebDriver, TestPageServer) {
        for channel in channels {
            _ = try await river.request("GET", "/publish?name=\(channel)&data=before")
        }
        let pages = try TestPageServer(pages: [
            "/page.html": Self.page(riverPort: river.port, channels: channels, prelude: prelude)
        ])
        let browser = try await WebDriver.start()
        try await browser.open("http://127.0.0.1:\(pages.port)/page.html")
        return (browser, pages)
    }

    @Test func tenChannelsOnOneWebSocketGetEveryMessage() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, threads: 2) { river in
            let channels = (0..<10).map { "ticker-\($0)" }
            let (browser, pages) = try await self.openPage(river, following: channels)
            defer { pages.stop() }
            await #expect(try browser.waitUntil("return window.received.length === 10;"), "the history of all ten")
            for channel in channels {
                _ = try await river.request("GET", "/publish?name=\(channel)&data=after")
            }
            await #expect(try browser.waitUntil("return window.received.length === 20;"))
            let received = try await browser.execute("return window.received;") as? [String] ?? []
            for channel in channels {
                #expect(
                    received.filter { $0.hasPrefix(channel + ":") } == ["\(channel):1:before", "\(channel):2:after"]
                )
            }
            await #expect(
                try browser.execute("return Comet.transport + ' ' + client.mux.opens;") as? String == "websocket 1"
            )
            let stats = try await self.stats(river)
            #expect(stats.contains("\"stream\": 0, \"long_poll\": 0, \"sse\": 0, \"websocket\": 1}"), "\(stats)")

            // Leaving a channel is an unsubscribe on the same connection.
            _ = try await browser.execute("client.disconnect('ticker-0'); return 0;")
            _ = try await river.request("GET", "/publish?name=ticker-0&data=gone")
            _ = try await river.request("GET", "/publish?name=ticker-1&data=still")
            await #expect(try browser.waitUntil("return window.received.length === 21;"))
            await #expect(try browser.execute("return window.received[20];") as? String == "ticker-1:3:still")
            await #expect(try browser.execute("return client.mux.opens;") as? Int == 1)
        }
    }

    /// Without WebSocket, twelve channels share one multi-channel stream (one
    /// stream per channel would stall at the browser's sixth connection).
    @Test(arguments: [
        ("eventsource", "window.WebSocket = undefined;", "\"sse\": 1"),
        ("xhr-streaming", "window.WebSocket = undefined; window.EventSource = undefined;", "\"stream\": 1"),
    ])
    func twelveChannelsShareOneFallbackStream(transport: String, prelude: String, count: String) async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, threads: 2) { river in
            let channels = (0..<12).map { "feed-\($0)" }
            let (browser, pages) = try await self.openPage(river, following: channels, prelude: prelude)
            defer { pages.stop() }
            await #expect(try browser.waitUntil("return window.received.length === 12;"), "the history of all twelve")
            for channel in channels {
                _ = try await river.request("GET", "/publish?name=\(channel)&data=after")
            }
            await #expect(try browser.waitUntil("return window.received.length === 24;"))
            let received = try await browser.execute("return window.received;") as? [String] ?? []
            for channel in channels {
                #expect(
                    received.filter { $0.hasPrefix(channel + ":") } == ["\(channel):1:before", "\(channel):2:after"]
                )
            }
            await #expect(try browser.execute("return Comet.transport;") as? String == transport)
            let stats = try await self.stats(river)
            #expect(stats.contains(count), "one stream for twelve channels: \(stats)")
        }
    }

    /// A page following more channels at once than `max_commands_per_second` lets it
    /// subscribe to gets them all: lib.js subscribes again, a second or two later, to each
    /// channel answered 429 for the pace (a 429 for too many channels is not retried).
    @Test func subscribesRefusedForThePaceAreRetried() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, configured { $0.maxCommandsPerSecond = 3 }, threads: 2) { river in
            let channels = (0..<8).map { "paced-\($0)" }
            let (browser, pages) = try await self.openPage(river, following: channels)
            defer { pages.stop() }
            await #expect(try browser.waitUntil("return window.received.length === 8;"), "each channel's history")
            let received = try await browser.execute("return window.received.slice().sort();") as? [String]
            #expect(received == channels.map { "\($0):1:before" })
            await #expect(try browser.execute("return Comet.transport;") as? String == "websocket")
        }
    }

    /// A page written as the 2011 river's chat demo used lib.js: lib.js
    /// loaded with a `domain` query, `document.domain` set, a global client
    /// connecting with seq -1, a message sent on Enter and each one appended
    /// to the log's HTML. Two windows of it still chat with the new lib.js.
    static func chat2011Page(riverPort: Int) -> String {
        """
        <!DOCTYPE html>
        <html><head><title>2011 chat</title>
        <script type="text/javascript" src="http://127.0.0.1:\(riverPort)/lib.js?domain=127.0.0.1"></script>
        </head><body>
        <script type="text/javascript">
            document.domain = "127.0.0.1";
            function onMsg(obj) { document.getElementById("chatLog").innerHTML += obj.data + "<br>"; }
            try {
                Comet.init(function() { c = new Comet.Client(); c.connect("chat-2011", onMsg, -1); });
            } catch (e) { alert("couldn't connect."); }
            function keyPress(e) {
                if (e.keyCode != 13) return true;
                var input = document.getElementById("msg");
                c.send("chat-2011", input.value);
                input.value = "";
                return true;
            }
        </script>
        <div id="chatLog"></div>
        <input id="msg" type="text" onkeypress="return keyPress(event);" />
        </body></html>
        """
    }

    @Test func theTwentyElevenChatDemosCallsStillWork() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, threads: 2) { river in
            _ = try await river.request("GET", "/publish?name=chat-2011&data=earlier")
            let pages = try TestPageServer(pages: ["/chat.html": Self.chat2011Page(riverPort: river.port)])
            defer { pages.stop() }
            let browser = try await WebDriver.start()
            try await browser.open("http://127.0.0.1:\(pages.port)/chat.html")
            let first = try await browser.currentWindow()
            await #expect(
                try browser.waitUntil("return document.getElementById('chatLog').innerHTML === 'earlier<br>';")
            )
            _ = try await browser.newWindow()
            try await browser.open("http://127.0.0.1:\(pages.port)/chat.html")
            await #expect(
                try browser.waitUntil("return document.getElementById('chatLog').innerHTML === 'earlier<br>';")
            )
            try await browser.type("hello from 2011\u{E007}", into: "#msg")  // E007: the Enter key
            await #expect(
                try browser.waitUntil(
                    "return document.getElementById('chatLog').innerHTML === 'earlier<br>hello from 2011<br>';"
                )
            )
            try await browser.switchTo(first)
            await #expect(
                try browser.waitUntil(
                    "return document.getElementById('chatLog').innerHTML === 'earlier<br>hello from 2011<br>';"
                )
            )
            await #expect(try browser.execute("return Comet.transport;") as? String == "websocket")
        }
    }

    @Test func twoWindowsSeeEachOtherJoinAndLeave() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, Self.presence, threads: 2) { river in
            let pages = try TestPageServer(pages: [
                "/room.html": Self.page(riverPort: river.port, channels: ["room", "other"])
            ])
            defer { pages.stop() }
            let browser = try await WebDriver.start()
            try await browser.open("http://127.0.0.1:\(pages.port)/room.html?user=ann")
            let ann = try await browser.currentWindow()
            await #expect(try browser.waitUntil("return window.client && client.mux && client.mux.isOpen;"))
            let ben = try await browser.newWindow()
            try await browser.open("http://127.0.0.1:\(pages.port)/room.html?user=ben")
            try await browser.switchTo(ann)
            await #expect(
                try browser.waitUntil(
                    "return window.events.indexOf('join:room:ben') >= 0 && window.events.indexOf('join:other:ben') >= 0;"
                )
            )
            _ = try await browser.execute(
                "client.presence('room').then(function (p) { window.snapshot = p.users + ' ' + p.members.map(function (m) { return m.user + (m.unverified ? '?' : ''); }).join(','); }); return 0;"
            )
            await #expect(try browser.waitUntil("return window.snapshot === '2 ann?,ben?';"))

            try await browser.switchTo(ben)
            try await browser.closeWindow()  // ben's page goes, and its connection with it
            try await browser.switchTo(ann)
            await #expect(
                try browser.waitUntil(
                    "return window.events.indexOf('leave:room:ben') >= 0 && window.events.indexOf('leave:other:ben') >= 0;"
                )
            )
            let events = try await browser.execute("return window.events.slice().sort().join(' ');") as? String
            #expect(events == "join:other:ben join:room:ben leave:other:ben leave:room:ben", "each once")
        }
    }

    /// The chat demo: who is in the room, and another room on the same connection.
    @Test func theChatListsWhoIsHereAndSwitchesRoomsOnItsOneConnection() async throws {
        #expect(WebDriver.isAvailable, "chromium and chromium-driver are required: run scripts/test")
        try await withRiver(.live, Self.presence, threads: 2) { river in
            let browser = try await WebDriver.start()
            let chat = "http://127.0.0.1:\(river.port)/chat"
            let (alice, bob) = try await browser.joinChatAsAliceAndBob(chat)

            try await browser.switchTo(alice)
            await #expect(
                try browser.waitUntil("return document.querySelector('#members').textContent === 'alice (you)bob';")
            )

            try await browser.click("#rooms button[data-room='lobby']")
            try await browser.switchTo(bob)
            try await browser.click("#rooms button[data-room='lobby']")
            try await browser.type("hello lobby", into: "#message")
            try await browser.click("#send")
            try await browser.switchTo(alice)
            await #expect(
                try browser.waitUntil("return document.querySelector('#log').textContent.indexOf('hello lobby') >= 0;")
            )
            await #expect(
                try browser.waitUntil("return document.querySelector('#members').textContent === 'alice (you)bob';")
            )
            await #expect(
                try browser.execute("return document.querySelector('#room').textContent;") as? String == "#lobby"
            )
            await #expect(try browser.execute("return chatClient.mux.opens;") as? Int == 1, "the same connection")
            let stats = try await self.stats(river)
            #expect(stats.contains("\"websocket\": 2}"), "one connection per window: \(stats)")
        }
    }
}
