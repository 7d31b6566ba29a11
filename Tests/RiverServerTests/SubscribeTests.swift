import RiverTesting
import Testing

/// `/subscribe`: streaming, long-poll, JSONP, GET and POST, on exact bytes.
/// In-process (the real handlers, no socket); the first test also runs live.
@Suite struct SubscribeTests {
    @Test(arguments: TestRiver.Mode.allCases)
    func streamingDeliversOneChunkPerMessageWithExactBytes(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/subscribe?name=public-channel&hello=1")
            let head = try await subscriber.readHead()
            #expect(head.status == 200)
            #expect(head.header("Transfer-Encoding") == "chunked")
            #expect(try await subscriber.readChunk()?.hasPrefix("[\"live\", {\"channel\": \"public-channel\"") == true)

            let first = try await river.request(
                "POST",
                "/publish",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "name=public-channel&data=hello-world-of-comet"
            )
            #expect(first.status == 200)
            #expect(first.body == "{\"channel\": \"public-channel\", \"seq\": 1}")
            _ = try await river.request("GET", "/publish?name=public-channel&data=second")

            #expect(try await subscriber.readChunk() == riverMessage("public-channel", 1, "\"hello-world-of-comet\""))
            #expect(try await subscriber.readChunk() == riverMessage("public-channel", 2, "\"second\""))
        }
    }

    @Test func subscribeByPOSTFormBody() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest(
                "POST",
                "/subscribe",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "name=posted"
            )
            #expect(try await subscriber.readHead().status == 200)
            _ = try await river.request("GET", "/publish?name=posted&data=x")
            #expect(try await subscriber.readChunk() == riverMessage("posted", 1, "\"x\""))
        }
    }

    @Test func payloadIsEscapedPerRFC8259() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/subscribe?name=esc")
            _ = try await subscriber.readHead()
            // quote, backslash, newline, tab, NUL, U+001F, DEL, é, 🚀, U+2028
            let raw = "a\"b\\c\nd\te\u{0}f\u{1F}g\u{7F}é🚀\u{2028}"
            let response = try await river.request(
                "POST",
                "/publish?name=esc",
                headers: ["Content-Type: text/plain"],
                body: raw
            )
            #expect(response.status == 200)
            let expected = "\"a\\\"b\\\\c\\nd\\te\\u0000f\\u001fg\u{7F}é🚀\\u2028\""
            #expect(try await subscriber.readChunk() == riverMessage("esc", 1, expected))
        }
    }

    @Test func channelNamesArePercentDecodedAndEscaped() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/subscribe?name=caf%C3%A9+%22room%22")
            _ = try await subscriber.readHead()
            let response = try await river.request("GET", "/publish?name=caf%C3%A9%20%22room%22&data=%22hi%22")
            #expect(response.body == "{\"channel\": \"café \\\"room\\\"\", \"seq\": 1}")
            #expect(try await subscriber.readChunk() == riverMessage("café \\\"room\\\"", 1, "\"\\\"hi\\\"\""))
        }
    }

    @Test func longPollEndsAfterFirstPushAndKeepsTheConnection() async throws {
        try await withRiver { river in
            let poller = try await river.connect()
            try await poller.sendRequest("GET", "/subscribe?name=lp&keep=0")
            #expect(try await poller.readHead().status == 200)
            _ = try await river.request("GET", "/publish?name=lp&data=one")
            #expect(try await poller.readChunk() == riverMessage("lp", 1, "\"one\""))
            #expect(try await poller.readChunk() == nil)

            // The same connection serves the next poll, resuming by seq.
            _ = try await river.request("GET", "/publish?name=lp&data=two")
            _ = try await river.request("GET", "/publish?name=lp&data=three")
            try await poller.sendRequest("GET", "/subscribe?name=lp&keep=0&seq=1")
            let batch = try await poller.readResponse()
            #expect(batch.body == riverMessage("lp", 2, "\"two\"") + riverMessage("lp", 3, "\"three\""))
        }
    }

    @Test func longPollWithoutCatchUpWaitsForALiveMessage() async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=lpw&data=old")
            let poller = try await river.connect()
            try await poller.sendRequest("GET", "/subscribe?name=lpw&keep=0&seq=1")
            _ = try await poller.readHead()
            #expect(try await poller.unreadBytesNow() == [], "nothing until a message comes")
            _ = try await river.request("GET", "/publish?name=lpw&data=new")
            #expect(try await poller.readChunk() == riverMessage("lpw", 2, "\"new\""))
            #expect(try await poller.readChunk() == nil)
        }
    }

    @Test(arguments: ["callback", "jsonp"])
    func jsonpWrapsEveryMessageIncludingReplay(parameter: String) async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=js&data=old")
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/subscribe?name=js&seq=0&\(parameter)=app.river_cb$1")
            let head = try await subscriber.readHead()
            #expect(head.header("Content-Type")?.hasPrefix("application/javascript") == true)
            #expect(try await subscriber.readChunk() == "app.river_cb$1(\(riverMessage("js", 1, "\"old\"")));\r\n")
            _ = try await river.request("GET", "/publish?name=js&data=new")
            #expect(try await subscriber.readChunk() == "app.river_cb$1(\(riverMessage("js", 2, "\"new\"")));\r\n")
        }
    }

    @Test(arguments: ["alert(1)", "a..b", "1abc", "a.", "x;y", String(repeating: "a", count: 129)])
    func invalidCallbacksAreRefused(callback: String) async throws {
        try await withRiver { river in
            let response = try await river.request("GET", "/subscribe?name=js&callback=\(percentEncoded(callback))")
            #expect(response.status == 400)
            #expect(response.body.hasPrefix("invalid 'callback' parameter"))
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "HTTP/1.0 has no HTTP/2 form"))
    func http10ClientsGetOneMessagePerLineUntilClose() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.send("GET /subscribe?name=old HTTP/1.0\r\n\r\n")
            let head = try await subscriber.readHead()
            #expect(head.version == "HTTP/1.0")
            #expect(head.header("Transfer-Encoding") == nil)
            _ = try await river.request("GET", "/publish?name=old&data=a")
            _ = try await river.request("GET", "/publish?name=old&data=b")
            let expected = riverMessage("old", 1, "\"a\"") + "\r\n" + riverMessage("old", 2, "\"b\"") + "\r\n"
            var received = ""
            while received.utf8.count < expected.utf8.count {
                received += String(decoding: try await subscriber.readSome(), as: UTF8.self)
            }
            #expect(received == expected)
        }
    }
}
