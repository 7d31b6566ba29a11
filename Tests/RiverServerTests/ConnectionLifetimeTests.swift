import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// Nothing a connection made outlives it: the server records a weak
/// reference to every NIO channel, connection handler and subscriber it
/// makes, and once the client is done every one of them must be gone, for
/// every kind of connection.
@Suite struct ConnectionLifetimeTests {
    /// Runs `exchange` against a fresh server, then waits (up to 5 s) for
    /// everything tracked to be freed. `expected` kinds must have been made at
    /// least once, so the test cannot pass without exercising them.
    func expectNothingOutlives(
        _ expected: [String],
        _ configuration: RiverConfiguration = .testing,
        _ exchange: (TestServer) async throws -> Void
    ) async throws {
        let probe = LifetimeProbe()
        let server = try await TestServer.start(configuration, lifetimeObserver: probe)
        do {
            try await exchange(server)
            var survivors = probe.survivors
            let deadline = ContinuousClock.now + .seconds(5)
            while !survivors.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                survivors = probe.survivors
            }
            #expect(survivors.isEmpty, "outlived their connections: \(survivors)")
            let made = probe.trackedKinds
            for kind in expected {
                #expect((made[kind] ?? 0) > 0, "no \(kind) was made: \(made)")
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static let http = ["SocketChannel", "HTTPConnectionHandler"]
    static let stream = http + ["StreamSubscriber"]

    @Test func requestsOnFreshKeptAliveAndPipelinedConnections() async throws {
        try await self.expectNothingOutlives(Self.http) { server in
            _ = try httpRequest(port: server.port, "GET", "/health", headers: ["Connection: close"])
            _ = try httpRequest(port: server.port, "POST", "/publish?name=body", body: String(repeating: "b", count: 60_000))
            let kept = try server.connect()
            for index in 0..<3 {
                try kept.sendRequest("GET", "/publish?name=kept&data=\(index)")
                #expect(try kept.readResponse().status == 200)
            }
            kept.close()
            let pipelined = try server.connect()
            try pipelined.send(
                String(repeating: "GET /publish?name=p&data=x HTTP/1.1\r\nHost: x\r\n\r\n", count: 5)
            )
            for _ in 0..<5 { #expect(try pipelined.readResponse().status == 200) }
            pipelined.close()
            _ = try httpRequest(port: server.port, "GET", "/lib.js")
        }
    }

    @Test func refusedAndBadRequests() async throws {
        try await self.expectNothingOutlives(Self.http + ["RefusedConnectionHandler"], configured { $0.maxConnections = 1 }) {
            server in
            let holder = try server.connect()
            try holder.sendRequest("GET", "/health")
            #expect(try holder.readResponse().status == 200)
            let refused = try server.connect()
            #expect(try refused.readResponse().status == 503)
            #expect(try refused.waitForClose())
            holder.close()
            try await Task.sleep(for: .milliseconds(100))  // (the slot frees when the server sees the close)
            let bad = try server.connect()
            try bad.send("BAD\r\n\r\n")
            #expect(try bad.readResponse().status == 400)
            #expect(try bad.waitForClose())
        }
    }

    @Test func timedOutConnections() async throws {
        try await self.expectNothingOutlives(Self.http, configured { $0.readTimeout = .seconds(1) }) { server in
            let silent = try server.connect()
            let partial = try server.connect()
            try partial.send("GET /publish?name=slow")
            #expect(try silent.waitForClose())
            #expect(try partial.readResponse().status == 408)
        }
    }

    @Test(arguments: [
        "/subscribe?name=life", "/subscribe?name=life&callback=cb", "/sse?name=life",
        "/subscribe?name=life&keep=0",
    ])
    func streamsLongPollsAndEventStreams(target: String) async throws {
        try await self.expectNothingOutlives(Self.stream) { server in
            let subscriber = try server.connect()
            try subscriber.sendRequest("GET", target)
            _ = try subscriber.readHead()
            #expect(try httpRequest(port: server.port, "GET", "/publish?name=life&data=1").status == 200)
            if target.hasPrefix("/sse") {
                #expect(!(try subscriber.readSome()).isEmpty)
            } else {
                #expect(try subscriber.readChunk() != nil)
            }
            subscriber.close()
            // A long-poll that caught up on history ended its response and kept the connection.
            let poll = try server.connect()
            try poll.sendRequest("GET", "/subscribe?name=life&seq=0&keep=0")
            #expect(try poll.readResponse().status == 200)
            poll.close()
        }
    }

    @Test func dashboardStreams() async throws {
        try await self.expectNothingOutlives(Self.http + ["StatsStream"]) { server in
            let early = try server.connect()  // closed before its first sample
            try early.sendRequest("GET", "/stats/stream")
            #expect(try early.readHead().status == 200)
            let watcher = try server.connect()
            try watcher.sendRequest("GET", "/stats/stream")
            #expect(try watcher.readHead().status == 200)
            early.close()
            #expect(String(decoding: try watcher.readSome(), as: UTF8.self).hasPrefix("event: sample\n"))
            watcher.close()
        }
    }

    @Test func webSockets() async throws {
        try await self.expectNothingOutlives(Self.http + ["WebSocketConnectionHandler", "StreamSubscriber"]) {
            server in
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=ws")
            try socket.send(text: "hello")
            #expect(try socket.read().text.contains("hello"))
            try socket.send(opcode: 0x9, Array("ping".utf8))
            #expect(try socket.read().opcode == 0xA)
            socket.connection.close()
            let closing = try SocketWebSocket(port: server.port, path: "/websocket?name=ws&seq=0")
            #expect(try closing.read().text.contains("hello"))
            try closing.send(opcode: 0x8, [0x03, 0xE8])
            #expect(try closing.read().opcode == 0x8)
            #expect(try closing.connection.waitForClose())
        }
    }

    @Test func streamsEndedByTheServer() async throws {
        try await self.expectNothingOutlives(Self.stream + ["WebSocketConnectionHandler"]) { server in
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=doomed")
            _ = try stream.readHead()
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=doomed")
            #expect(try httpRequest(port: server.port, "GET", "/publish?name=doomed&data=1").status == 200)
            #expect(try stream.readChunk() != nil)
            #expect(try socket.read().opcode == 0x1)
            #expect(try httpRequest(port: server.port, "DELETE", "/channels/doomed").status == 200)
            #expect(try stream.readChunk() == nil)
            #expect(try socket.read().closeCode == 1000)
            stream.close()
            socket.connection.close()
        }
    }
}
