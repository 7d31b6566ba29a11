import RiverTesting
import Testing

/// Server-Sent Events (`/sse`, and `/subscribe` with `Accept: text/event-stream`).
@Suite struct EventSourceTests {
    /// Reads SSE bytes until `count` events (blank-line terminated) have arrived.
    func readEvents(_ connection: SocketConnection, count: Int) throws -> String {
        var text = ""
        while text.components(separatedBy: "\n\n").count - 1 < count {
            text += String(decoding: try connection.readSome(), as: UTF8.self)
        }
        return text
    }

    @Test func eventsCarryIdAndDataLines() async throws {
        try await withServer { server in
            let stream = try server.connect()
            try stream.sendRequest("GET", "/sse?name=feed")
            let head = try stream.readHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream; charset=utf-8")
            #expect(head.header("Cache-Control") == "no-cache, no-store")
            #expect(head.header("X-Accel-Buffering") == "no")
            _ = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=feed",
                headers: ["Content-Type: text/plain"],
                body: "line one\nline two\r\nthree"
            )
            #expect(try self.readEvents(stream, count: 1) == "id: 1\ndata: line one\ndata: line two\ndata: three\n\n")
        }
    }

    @Test(arguments: [
        ["Last-Event-ID: 2"],
        ["X-Ignore: 1"],
    ])
    func resumesFromLastEventIDOrParameter(headers: [String]) async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "resume", count: 4)
            let stream = try server.connect()
            let path = headers[0].hasPrefix("Last") ? "/sse?name=resume" : "/sse?name=resume&lastEventId=2"
            try stream.sendRequest("GET", path, headers: headers)
            _ = try stream.readHead()
            #expect(try self.readEvents(stream, count: 2) == "id: 3\ndata: m3\n\nid: 4\ndata: m4\n\n")
        }
    }

    @Test func acceptHeaderTurnsSubscribeIntoEventSource() async throws {
        try await withServer { server in
            _ = try httpRequest(port: server.port, "GET", "/publish?name=acc&data=x")
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=acc&seq=0", headers: ["Accept: text/event-stream"])
            #expect(try stream.readHead().header("Content-Type") == "text/event-stream; charset=utf-8")
            #expect(try self.readEvents(stream, count: 1) == "id: 1\ndata: x\n\n")
        }
    }

    @Test func lostAndResetAreNamedEvents() async throws {
        try await withServer(configured { $0.history.size = 1 }) { server in
            try publishPipelined(port: server.port, channel: "gone", count: 3)
            let lost = try server.connect()
            try lost.sendRequest("GET", "/sse?name=gone&lastEventId=0")
            _ = try lost.readHead()
            #expect(
                try self.readEvents(lost, count: 2)
                    == "event: lost\nid: 2\ndata: {\"channel\": \"gone\", \"from\": 1, \"to\": 2}\n\nid: 3\ndata: m3\n\n"
            )
            let reset = try server.connect()
            try reset.sendRequest("GET", "/sse?name=gone", headers: ["Last-Event-ID: 40"])
            _ = try reset.readHead()
            #expect(
                maskingEpochs(try self.readEvents(reset, count: 3))
                    == "event: reset\nid: 0\ndata: {\"channel\": \"gone\", \"seq\": 3, \"epoch\": E}\n\n"
                    + "event: lost\nid: 2\ndata: {\"channel\": \"gone\", \"from\": 1, \"to\": 2}\n\nid: 3\ndata: m3\n\n"
            )
        }
    }

    @Test func heartbeatCommentsKeepAQuietStreamAlive() async throws {
        try await withServer(configured { $0.heartbeat = .seconds(1) }) { server in
            let stream = try server.connect()
            try stream.sendRequest("GET", "/sse?name=quiet")
            _ = try stream.readHead()
            #expect(try self.readEvents(stream, count: 1) == ":\n\n")
        }
    }

    @Test func badLastEventIDIs400() async throws {
        try await withServer { server in
            let response = try httpRequest(port: server.port, "GET", "/sse?name=x", headers: ["Last-Event-ID: abc"])
            #expect(response.status == 400)
            #expect(response.body == "invalid Last-Event-ID header: expected a non-negative integer, got 'abc'\n")
        }
    }
}
