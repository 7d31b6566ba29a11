import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// Nothing a connection made outlives it: the server records a weak
/// reference to every NIO channel, connection handler and subscriber it
/// makes, and once the client is done every one of them must be gone, for
/// every kind of connection. Each test runs live (real sockets, NIO's
/// `SocketChannel`) and in-process (the same handlers on
/// `NIOAsyncTestingChannel`s, the server's clock in the test's hand).
@Suite struct ConnectionLifetimeTests {
    /// Runs `exchange` against a fresh River in `mode`, then waits (up to
    /// 5 s) for everything tracked to be freed. `expected` kinds (and the mode's
    /// channel) must have been made at least once, so the test cannot pass
    /// without exercising them.
    func expectNothingOutlives(
        _ mode: TestRiver.Mode,
        _ expected: [String],
        _ configuration: RiverConfiguration = .testing,
        _ exchange: (TestRiver) async throws -> Void
    ) async throws {
        let probe = LifetimeProbe()
        try await withRiver(mode, configuration, lifetimeObserver: probe) { river in
            try await exchange(river)
            // What is due within the 5 s a live server has (a refused socket's grace period) runs now.
            if mode == .inProcess { await river.advance(by: .seconds(5)) }
            let freed: Void? = try? await eventually("every tracked object is freed", timeout: .seconds(5)) {
                probe.survivors.isEmpty
            }
            #expect(freed != nil, "outlived their connections: \(probe.survivors)")
            let made = probe.trackedKinds
            let channel = mode == .live ? "SocketChannel" : "NIOAsyncTestingChannel"
            for kind in [channel] + expected {
                #expect((made[kind] ?? 0) > 0, "no \(kind) was made: \(made)")
            }
        }
    }

    static let http = ["HTTPConnectionHandler"]
    static let stream = http + ["StreamSubscriber"]

    @Test(arguments: TestRiver.Mode.allCases)
    func requestsOnFreshKeptAliveAndPipelinedConnections(_ mode: TestRiver.Mode) async throws {
        try await self.expectNothingOutlives(mode, Self.http) { river in
            _ = try await river.request("GET", "/health", headers: ["Connection: close"])
            _ = try await river.request("POST", "/publish?name=body", body: String(repeating: "b", count: 60_000))
            let kept = try await river.connect()
            for index in 0..<3 {
                try await kept.sendRequest("GET", "/publish?name=kept&data=\(index)")
                #expect(try await kept.readResponse().status == 200)
            }
            await kept.close()
            let pipelined = try await river.connect()
            try await pipelined.send(
                String(repeating: "GET /publish?name=p&data=x HTTP/1.1\r\nHost: x\r\n\r\n", count: 5)
            )
            for _ in 0..<5 { #expect(try await pipelined.readResponse().status == 200) }
            await pipelined.close()
            _ = try await river.request("GET", "/lib.js")
        }
    }

    @Test(
        .disabled(if: TestRiver.bridgesHTTP2, "refusal at accept and HTTP/1.1 parse errors have no HTTP/2 form"),
        arguments: TestRiver.Mode.allCases
    )
    func refusedAndBadRequests(_ mode: TestRiver.Mode) async throws {
        let limited = configured { $0.maxConnections = 1 }
        try await self.expectNothingOutlives(mode, Self.http + ["RefusedConnectionHandler"], limited) { river in
            let holder = try await river.connect()
            try await holder.sendRequest("GET", "/health")
            #expect(try await holder.readResponse().status == 200)
            let refused = try await river.connect()
            #expect(try await refused.readResponse().status == 503)
            #expect(try await refused.waitForClose())
            await holder.close()
            // The slot frees when the server sees the close: until then a new connection is refused too.
            let (bad, answer) = try await eventually("the holder's slot is free") {
                () async throws -> (TestConnection, TestConnection.Response)? in
                let bad = try await river.connect()
                try await bad.send("BAD\r\n\r\n")
                let answer = try await bad.readResponse()
                guard answer.status == 503 else { return (bad, answer) }
                await bad.close()
                return nil
            }
            #expect(answer.status == 400)
            #expect(try await bad.waitForClose())
        }
    }

    /// (Live, the read timeout is 5 s: a client starved between connect and its first byte on a
    /// loaded machine, over a second as seen, must not look silent.)
    @Test(
        .disabled(if: TestRiver.bridgesHTTP2, "an HTTP/1.1 request in pieces (HTTP2Tests time out HTTP/2's own)"),
        arguments: TestRiver.Mode.allCases
    )
    func timedOutConnections(_ mode: TestRiver.Mode) async throws {
        let timeout = configured { $0.readTimeout = .seconds(mode == .live ? 5 : 1) }
        try await self.expectNothingOutlives(mode, Self.http, timeout) { river in
            let silent = try await river.connect()
            let partial = try await river.connect()
            try await partial.send("GET /publish?name=slow")
            if mode == .inProcess { await river.advance(by: .seconds(2)) }  // (live: the server's own clock)
            #expect(try await silent.waitForClose())
            #expect(try await partial.readResponse().status == 408)
        }
    }

    @Test(
        arguments: [
            "/subscribe?name=life", "/subscribe?name=life&callback=cb", "/sse?name=life",
            "/sse?name=life&name=other", "/subscribe?name=life&keep=0",
        ],
        TestRiver.Mode.allCases
    )
    func streamsLongPollsAndEventStreams(target: String, mode: TestRiver.Mode) async throws {
        try await self.expectNothingOutlives(mode, Self.stream) { river in
            let subscriber = try await river.connect()
            // A stream is in place at its `live` notice; a long-poll (which that notice would end)
            // resumes after seq 0, so it gets the message whether it subscribed before it or after.
            let longPoll = target.contains("keep=0")
            try await subscriber.sendRequest("GET", target + (longPoll ? "&seq=0" : "&hello=1"))
            _ = try await subscriber.readHead()
            if target.hasPrefix("/sse") {
                var notice = ""
                while !notice.contains("\n\n") {
                    notice += String(decoding: try await subscriber.readSome(), as: UTF8.self)
                }
                #expect(notice.hasPrefix("event: live"))
            } else if !longPoll {
                #expect(try await subscriber.readChunk()?.contains("[\"live\"") == true)
            }
            #expect(try await river.request("GET", "/publish?name=life&data=1").status == 200)
            if target.hasPrefix("/sse") {
                // (The message's event: its text as data, or with several channels its river JSON and the cursor.)
                var event = ""
                while !event.contains("data: 1\n") && !event.contains("\"data\": \"1\"") {
                    event += String(decoding: try await subscriber.readSome(), as: UTF8.self)
                }
            } else {
                #expect(try await subscriber.readChunk() != nil)
            }
            await subscriber.close()
            // A long-poll that caught up on history ended its response and kept the connection.
            let poll = try await river.connect()
            try await poll.sendRequest("GET", "/subscribe?name=life&seq=0&keep=0")
            #expect(try await poll.readResponse().status == 200)
            await poll.close()
        }
    }

    /// Live: a stats stream's samples come by the wall clock, a second apart.
    @Test func dashboardStreams() async throws {
        try await self.expectNothingOutlives(.live, Self.http + ["StatsStream"]) { river in
            let early = try await river.connect()  // closed before its first sample
            try await early.sendRequest("GET", "/stats/stream")
            #expect(try await early.readHead().status == 200)
            let watcher = try await river.connect()
            try await watcher.sendRequest("GET", "/stats/stream")
            #expect(try await watcher.readHead().status == 200)
            await early.close()
            #expect(String(decoding: try await watcher.readSome(), as: UTF8.self).hasPrefix("event: sample\n"))
            await watcher.close()
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func webSockets(_ mode: TestRiver.Mode) async throws {
        try await self.expectNothingOutlives(mode, Self.http + ["WebSocketConnectionHandler", "StreamSubscriber"]) {
            river in
            let socket = try await river.webSocket("/websocket?name=ws&hello=1")
            #expect(try await socket.readText().hasPrefix("[\"live\""))
            try await socket.send(text: "hello")
            #expect(try await socket.read().text.contains("hello"))
            try await socket.send(opcode: 0x9, Array("ping".utf8))
            #expect(try await socket.read().opcode == 0xA)
            await socket.close()
            let closing = try await river.webSocket("/websocket?name=ws&seq=0")
            #expect(try await closing.read().text.contains("hello"))
            try await closing.send(opcode: 0x8, [0x03, 0xE8])
            #expect(try await closing.read().opcode == 0x8)
            #expect(try await closing.connection.waitForClose())
            // (Over HTTP/2 the WebSocket was one stream: its connection is the client's to close.)
            await closing.close()
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func streamsEndedByTheServer(_ mode: TestRiver.Mode) async throws {
        try await self.expectNothingOutlives(mode, Self.stream + ["WebSocketConnectionHandler"]) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=doomed&hello=1")
            _ = try await stream.readHead()
            #expect(try await stream.readChunk()?.hasPrefix("[\"live\"") == true)
            let socket = try await river.webSocket("/websocket?name=doomed&hello=1")
            #expect(try await socket.readText().hasPrefix("[\"live\""))
            #expect(try await river.request("GET", "/publish?name=doomed&data=1").status == 200)
            #expect(try await stream.readChunk() != nil)
            #expect(try await socket.read().opcode == 0x1)
            #expect(try await river.request("DELETE", "/channels/doomed").status == 200)
            #expect(try await stream.readChunk() == nil)
            #expect(try await socket.read().closeCode == 1000)
            await stream.close()
            await socket.close()
        }
    }
}
