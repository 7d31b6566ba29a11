import RiverTesting
import Testing

/// Several channels in one HTTP subscription (PROTOCOL.md C1): streaming,
/// long-poll, JSONP and SSE carry every channel named; the compound cursor
/// resumes all of them; bad requests are refused with a reason.
@Suite struct MultiChannelTests {
    /// Subscribes with `target` and reads the head and the `live` notices of `hello=1`.
    func subscribe(
        _ river: TestRiver,
        _ target: String,
        headers: [String] = [],
        notices: Int = 0
    ) async throws
        -> TestConnection
    {
        let connection = try await river.connect()
        try await connection.sendRequest("GET", target, headers: headers)
        let head = try await connection.readHead()
        #expect(head.status == 200, "\(target)")
        for _ in 0..<notices { _ = try await connection.readChunk() }
        return connection
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func aStreamCarriesEveryChannelNamedAndARepeatCountsOnce(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=a&name=b&name=a&hello=1")
            #expect(try await stream.readHead().status == 200)
            let hellos = [try await stream.readChunk() ?? "", try await stream.readChunk() ?? ""]
            #expect(maskingEpochs(hellos[0]) == "[\"live\", {\"channel\": \"a\", \"seq\": 0, \"epoch\": E}]")
            #expect(maskingEpochs(hellos[1]) == "[\"live\", {\"channel\": \"b\", \"seq\": 0, \"epoch\": E}]")
            try await river.publish("b", "to b")
            try await river.publish("a", "to a")
            try await river.publish("c", "not named")
            #expect(try await stream.readChunk() == riverMessage("b", 1, "\"to b\""))
            #expect(try await stream.readChunk() == riverMessage("a", 1, "\"to a\""))
            if mode == .inProcess { #expect(try await stream.unreadBytesNow() == []) }
        }
    }

    @Test func aStreamCatchesUpEveryChannelFromItsCursor() async throws {
        try await withRiver { river in
            for data in ["a1", "a2", "a3"] { try await river.publish("a", data) }
            for data in ["b1", "b2"] { try await river.publish("b", data) }
            let stream = try await self.subscribe(river, "/subscribe?name=a&name=b&name=c&since=a:1,b:0,zzz:7")
            #expect(try await stream.readChunk() == riverMessage("a", 2, "\"a2\""))
            #expect(try await stream.readChunk() == riverMessage("a", 3, "\"a3\""))
            #expect(try await stream.readChunk() == riverMessage("b", 1, "\"b1\""))
            #expect(try await stream.readChunk() == riverMessage("b", 2, "\"b2\""))
            #expect(try await stream.unreadBytesNow() == [], "c starts live; zzz is not in the request")
        }
    }

    @Test func aLongPollAnswersOneBatchCoveringEveryChannelsCatchUp() async throws {
        try await withRiver { river in
            try await river.publish("x", "x1")
            try await river.publish("y", "y1")
            let poll = try await river.connect()
            try await poll.sendRequest("GET", "/subscribe?name=x&name=y&keep=0&since=x:0,y:0")
            let batch = try await poll.readResponse()
            #expect(batch.body == riverMessage("x", 1, "\"x1\"") + riverMessage("y", 1, "\"y1\""))

            // Nothing to catch up on: the first live message of any channel answers.
            try await poll.sendRequest("GET", "/subscribe?name=x&name=y&keep=0&since=x:1,y:1")
            #expect(try await poll.readHead().status == 200)
            #expect(try await poll.unreadBytesNow() == [])
            try await river.publish("y", "y2")
            #expect(try await poll.readChunk() == riverMessage("y", 2, "\"y2\""))
            #expect(try await poll.readChunk() == nil)
        }
    }

    @Test func jsonpWrapsEveryChannelsMessages() async throws {
        try await withRiver { river in
            let stream = try await self.subscribe(river, "/subscribe?name=p&name=q&callback=cb")
            try await river.publish("q", "hi")
            #expect(try await stream.readChunk() == "cb(\(riverMessage("q", 1, "\"hi\"")));\r\n")
        }
    }

    @Test func anEventStreamOfChannelsSendsRiverJSONWithTheCursorAsItsID() async throws {
        try await withRiver { river in
            try await river.publish("s1", "old")
            let stream = try await self.subscribe(river, "/sse?name=s1&name=s2&since=s1:0&hello=1")
            var text = ""
            try await river.publish("s2", "new")
            while !text.contains("new") {
                text += String(decoding: try await stream.readSome(), as: UTF8.self)
            }
            let events = maskingEpochs(text).components(separatedBy: "\n\n").filter { !$0.isEmpty }
            #expect(events.count == 4)
            #expect(events[0] == "event: live\ndata: [\"live\", {\"channel\": \"s1\", \"seq\": 0, \"epoch\": E}]")
            #expect(events[1] == "event: live\ndata: [\"live\", {\"channel\": \"s2\", \"seq\": 0, \"epoch\": E}]")
            let epochs = Self.epochs(in: text)
            #expect(events[2] == "id: s1:1:\(epochs[0]),s2:0:\(epochs[1])\ndata: \(riverMessage("s1", 1, "\"old\""))")
            #expect(events[3] == "id: s1:1:\(epochs[0]),s2:1:\(epochs[1])\ndata: \(riverMessage("s2", 1, "\"new\""))")

            // The last id resumes every channel, as an EventSource does by itself.
            try await river.publish("s1", "missed")
            let resumed = try await self.subscribe(
                river,
                "/sse?name=s1&name=s2",
                headers: ["Last-Event-ID: s1:1:\(epochs[0]),s2:1:\(epochs[1])"]
            )
            let again = String(decoding: try await resumed.readSome(), as: UTF8.self)
            #expect(
                again == "id: s1:2:\(epochs[0]),s2:1:\(epochs[1])\ndata: \(riverMessage("s1", 2, "\"missed\""))\n\n"
            )
        }
    }

    /// A catch-up writes many events before one flush: each keeps the cursor
    /// after its own message (the line is rewritten for the next one, not
    /// under the writes still waiting), across a seq gaining a digit.
    @Test func everyEventOfABatchKeepsTheCursorAfterItsOwnMessage() async throws {
        try await withRiver { river in
            for seq in 1...12 { try await river.publish("s1", "a\(seq)") }
            for seq in 1...3 { try await river.publish("s2", "b\(seq)") }
            let stream = try await self.subscribe(river, "/sse?name=s1&name=s2&since=s1:0,s2:0&hello=1")
            var text = ""
            while !text.contains("b3") { text += String(decoding: try await stream.readSome(), as: UTF8.self) }
            try await river.publish("s2", "b4")
            while !text.contains("b4") { text += String(decoding: try await stream.readSome(), as: UTF8.self) }
            let epochs = Self.epochs(in: text)
            try #require(epochs.count == 2)
            let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map(String.init)
            let expected =
                (1...12).map { "id: s1:\($0):\(epochs[0]),s2:0:\(epochs[1])" }
                + (1...4).map { "id: s1:12:\(epochs[0]),s2:\($0):\(epochs[1])" }
            #expect(ids == expected, "\(text)")

            // Cut after s1's catch-up: its last id still owes every message of s2.
            let resumed = try await self.subscribe(
                river,
                "/sse?name=s1&name=s2",
                headers: ["Last-Event-ID: \(expected[11].dropFirst(4))"]
            )
            var again = ""
            while !again.contains("b4") { again += String(decoding: try await resumed.readSome(), as: UTF8.self) }
            #expect(again.components(separatedBy: "\"data\": \"b").count == 5, "\(again)")
            #expect(!again.contains("\"a"), "\(again)")
        }
    }

    /// A quiet stream lets its cursor line go at the heartbeat; the next
    /// message's id is the whole cursor again.
    @Test func theCursorAfterAHeartbeatIsWhole() async throws {
        try await withRiver(.inProcess, configured { $0.heartbeat = .seconds(1) }) { river in
            let stream = try await self.subscribe(river, "/sse?name=h1&name=h2&hello=1")
            try await river.publish("h1", "before")
            var text = ""
            while !text.contains("before") { text += String(decoding: try await stream.readSome(), as: UTF8.self) }
            await river.advance(by: .seconds(1))
            while !text.hasSuffix(":\n\n") { text += String(decoding: try await stream.readSome(), as: UTF8.self) }
            try await river.publish("h2", "after")
            while !text.contains("after") { text += String(decoding: try await stream.readSome(), as: UTF8.self) }
            let epochs = Self.epochs(in: text)
            try #require(epochs.count == 2)
            let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }
            #expect(ids == ["id: h1:1:\(epochs[0]),h2:0:\(epochs[1])", "id: h1:1:\(epochs[0]),h2:1:\(epochs[1])"])
        }
    }

    /// Names a cursor must escape (a comma, a colon, UTF-8) are percent-encoded
    /// in every live event's id, and that id resumes both channels.
    @Test func liveEventIDsEscapeNamesAndResume() async throws {
        try await withRiver { river in
            let stream = try await self.subscribe(river, "/sse?name=a%2Cb&name=%C3%A9t%C3%A9:1&hello=1")
            var text = ""
            try await river.publish("a,b", "one")
            try await river.publish("été:1", "two")
            while !text.contains("two") {
                text += String(decoding: try await stream.readSome(), as: UTF8.self)
            }
            let epochs = Self.epochs(in: text)
            let ids = text.split(separator: "\n").filter { $0.hasPrefix("id: ") }
            #expect(
                ids == [
                    "id: a%2Cb:1:\(epochs[0]),%C3%A9t%C3%A9%3A1:0:\(epochs[1])",
                    "id: a%2Cb:1:\(epochs[0]),%C3%A9t%C3%A9%3A1:1:\(epochs[1])",
                ],
                "\(text)"
            )
            try await river.publish("été:1", "three")
            let resumed = try await self.subscribe(
                river,
                "/sse?name=a%2Cb&name=%C3%A9t%C3%A9:1",
                headers: ["Last-Event-ID: \(ids.last?.dropFirst(4) ?? "")"]
            )
            let again = String(decoding: try await resumed.readSome(), as: UTF8.self)
            #expect(again.hasPrefix("id: a%2Cb:1:\(epochs[0]),%C3%A9t%C3%A9%3A1:2:\(epochs[1])\n"), "\(again)")
            #expect(again.contains("three") && !again.contains("two"))
        }
    }

    /// The epochs named by `"epoch": N` in `text`, in order.
    static func epochs(in text: String) -> [String] {
        text.components(separatedBy: "\"epoch\": ").dropFirst().map { String($0.prefix { $0.isNumber }) }
    }

    @Test func aCursorFromAnotherEpochIsAResetForThatChannelOnly() async throws {
        try await withRiver { river in
            try await river.publish("r", "r1")
            try await river.publish("k", "k1")
            let stream = try await self.subscribe(river, "/subscribe?name=r&name=k&since=r:1:12345,k:1")
            let reset = maskingEpochs(try await stream.readChunk() ?? "")
            #expect(reset == "[\"reset\", {\"channel\": \"r\", \"seq\": 1, \"epoch\": E}]")
            #expect(try await stream.readChunk() == riverMessage("r", 1, "\"r1\""))
            #expect(try await stream.unreadBytesNow() == [])
        }
    }

    @Test(arguments: [
        ("/subscribe?name=a&name=b&seq=1", "invalid 'seq' parameter"),
        ("/subscribe?name=a&name=b&epoch=1", "invalid 'epoch' parameter"),
        ("/subscribe?name=a&name=b&format=raw", "invalid 'format' parameter"),
        ("/subscribe?name=a&since=a", "invalid 'since' parameter"),
        ("/subscribe?name=a&since=a:x", "invalid 'since' parameter"),
        ("/subscribe?name=a&since=a:1,a:2", "invalid 'since' parameter"),
        ("/subscribe?name=a&since=%25zz:1", "invalid 'since' parameter"),
        ("/subscribe?name=a&seq=1&since=a:1", "invalid 'seq' parameter"),
        ("/sse?name=a&name=b", ""),
    ])
    func badMultiChannelRequestsAreRefusedWithTheirReason(target: String, reason: String) async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            try await connection.sendRequest("GET", target)
            let head = try await connection.readHead()
            if reason.isEmpty {
                #expect(head.status == 200)
            } else {
                #expect(head.status == 400, "\(target)")
                let response = try await river.request("GET", target)
                #expect(response.body.hasPrefix(reason), "\(target): \(response.body)")
            }
        }
    }

    @Test func moreChannelsThanAllowedIs400() async throws {
        try await withRiver(configured { $0.maxChannelsPerConnection = 3 }) { river in
            let allowed = try await river.connect()
            try await allowed.sendRequest("GET", "/subscribe?name=a&name=b&name=c&name=a")
            #expect(try await allowed.readHead().status == 200)
            let response = try await river.request("GET", "/subscribe?name=a&name=b&name=c&name=d")
            #expect(response.status == 400)
            #expect(response.body.contains("more than 3 channels"))
        }
    }

    @Test func oneRefusedChannelRefusesTheWholeRequestNamingIt() async throws {
        let configuration = configured { try! $0.set("private_prefix", to: "private-") }
        try await withRiver(configuration) { river in
            let response = try await river.request("GET", "/subscribe?name=open&name=private-x")
            #expect(response.status == 401)
            #expect(response.body.contains("private-x"))
        }
    }
}
