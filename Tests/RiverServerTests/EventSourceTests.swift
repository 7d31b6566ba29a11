import RiverTesting
import Testing

/// Server-Sent Events (`/sse`, and `/subscribe` with `Accept: text/event-stream`).
/// In-process; the first test also runs live.
@Suite struct EventSourceTests {
    /// Reads SSE bytes until `count` events (blank-line terminated) have arrived.
    func readEvents(_ connection: TestConnection, count: Int) async throws -> String {
        var text = ""
        while text.components(separatedBy: "\n\n").count - 1 < count {
            text += String(decoding: try await connection.readSome(), as: UTF8.self)
        }
        return text
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func eventsCarryIdAndDataLines(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/sse?name=feed&hello=1")
            let head = try await stream.readHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream; charset=utf-8")
            #expect(head.header("Cache-Control") == "no-cache, no-store")
            #expect(head.header("X-Accel-Buffering") == "no")
            #expect(try await self.readEvents(stream, count: 1).hasPrefix("event: live\n"), "subscribed")
            _ = try await river.request(
                "POST",
                "/publish?name=feed",
                headers: ["Content-Type: text/plain"],
                body: "line one\nline two\r\nthree"
            )
            #expect(
                try await self.readEvents(stream, count: 1) == "id: 1\ndata: line one\ndata: line two\ndata: three\n\n"
            )
        }
    }

    @Test(arguments: [
        ["Last-Event-ID: 2"],
        ["X-Ignore: 1"],
    ])
    func resumesFromLastEventIDOrParameter(headers: [String]) async throws {
        try await withRiver { river in
            try await river.publishPipelined("resume", count: 4)
            let stream = try await river.connect()
            let path = headers[0].hasPrefix("Last") ? "/sse?name=resume" : "/sse?name=resume&lastEventId=2"
            try await stream.sendRequest("GET", path, headers: headers)
            _ = try await stream.readHead()
            #expect(try await self.readEvents(stream, count: 2) == "id: 3\ndata: m3\n\nid: 4\ndata: m4\n\n")
        }
    }

    @Test func acceptHeaderTurnsSubscribeIntoEventSource() async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=acc&data=x")
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=acc&seq=0", headers: ["Accept: text/event-stream"])
            #expect(try await stream.readHead().header("Content-Type") == "text/event-stream; charset=utf-8")
            #expect(try await self.readEvents(stream, count: 1) == "id: 1\ndata: x\n\n")
        }
    }

    @Test func lostAndResetAreNamedEvents() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 1 }) { river in
            try await river.publishPipelined("gone", count: 3)
            let lost = try await river.connect()
            try await lost.sendRequest("GET", "/sse?name=gone&lastEventId=0")
            _ = try await lost.readHead()
            #expect(
                try await self.readEvents(lost, count: 2)
                    == "event: lost\nid: 2\ndata: {\"channel\": \"gone\", \"from\": 1, \"to\": 2}\n\n"
                    + "id: 3\ndata: m3\n\n"
            )
            let reset = try await river.connect()
            try await reset.sendRequest("GET", "/sse?name=gone", headers: ["Last-Event-ID: 40"])
            _ = try await reset.readHead()
            #expect(
                maskingEpochs(try await self.readEvents(reset, count: 3))
                    == "event: reset\nid: 0\ndata: {\"channel\": \"gone\", \"seq\": 3, \"epoch\": E}\n\n"
                    + "event: lost\nid: 2\ndata: {\"channel\": \"gone\", \"from\": 1, \"to\": 2}\n\nid: 3\ndata: m3\n\n"
            )
        }
    }

    /// The heartbeat comes when the stream was quiet for `heartbeat`, not before.
    @Test func heartbeatCommentsKeepAQuietStreamAlive() async throws {
        try await withRiver(.inProcess, configured { $0.heartbeat = .seconds(1) }) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/sse?name=quiet")
            _ = try await stream.readHead()
            await river.advance(by: .milliseconds(999))
            #expect(try await stream.unreadBytesNow() == [], "quiet for less than the heartbeat: nothing yet")
            await river.advance(by: .milliseconds(1))
            #expect(try await self.readEvents(stream, count: 1) == ":\n\n")
        }
    }

    @Test func badLastEventIDIs400() async throws {
        try await withRiver { river in
            let response = try await river.request("GET", "/sse?name=x", headers: ["Last-Event-ID: abc"])
            #expect(response.status == 400)
            #expect(response.body == "invalid Last-Event-ID header: expected a non-negative integer, got 'abc'\n")
        }
    }
}
