import Foundation
import RiverTesting
import Synchronization
import Testing

/// Several `river` processes on one real Redis act as one service.
@Suite struct ScalingOutTests: RiverNodeTesting {
    func node(_ redis: RedisServerProcess, threads: Int = 1) async throws -> RiverProcess {
        try await RiverProcess.start(
            ["--engine", "redis", "--redis", redis.url, "--threads", String(threads), "--history-size", "1000"]
        )
    }

    /// (Two loops per node: subscribers and publishers land on different loops of the same node.)
    @Test func publishesToAnyNodeReachSubscribersOnEveryNodeInOneOrder() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b, c) = (
            try await self.node(redis, threads: 2), try await self.node(redis, threads: 2),
            try await self.node(redis, threads: 2)
        )
        try await self.stopping(a, b, c) {
            let onB = try await self.stream(b, "name=room")
            let onC = try await self.stream(c, "name=room")
            let socket = try await TestWebSocket(
                on: try await .live(port: a.port),
                path: "/websocket?name=room&hello=1"
            )
            #expect(try await socket.readText().hasPrefix("[\"live\", {\"channel\": \"room\""))

            var seqs: [Int] = []
            for index in 1...60 {
                let response = try await self.publish([a, b, c][index % 3], "room", "m\(index)")
                #expect(response.status == 200)
                seqs.append(try #require(self.seq(of: response)))
            }
            #expect(seqs == Array(1...60), "seq is global: one counter whichever node publishes")
            for subscriber in [onB, onC] {
                for seq in 1...60 {
                    #expect(try await subscriber.readChunk() == riverMessage("room", seq, "\"m\(seq)\""))
                }
            }
            for seq in 1...60 {
                #expect(try await socket.readText() == riverMessage("room", seq, "\"m\(seq)\""))
            }
        }
    }

    /// A binary message published on one node crosses Redis byte for byte:
    /// a raw WebSocket on another node gets it as a binary frame, live and
    /// replayed from Redis's history, and a river JSON stream in base64.
    @Test func aBinaryMessageCrossesRedisByteForByte() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b) = (try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b) {
            let bytes: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0D, 0x0A, 0x80]
            // (A raw WebSocket has no notices: seq=0 covers the moment its subscription completes.)
            let live = try await TestWebSocket(
                on: try await .live(port: b.port),
                path: "/websocket?name=bytes&format=raw&seq=0"
            )
            let river = try await self.stream(b, "name=bytes")
            let publisher = try await TestWebSocket(
                on: try await .live(port: a.port),
                path: "/websocket?name=bytes&format=raw"
            )
            try await publisher.send(opcode: 0x2, bytes)
            #expect(try await live.read() == TestWebSocket.Frame(opcode: 0x2, payload: bytes))
            #expect(try await publisher.read() == TestWebSocket.Frame(opcode: 0x2, payload: bytes))
            let base64 =
                "[\"msg\", {\"channel\": \"bytes\", \"seq\": 1, \"data\": \"AP/DKA0KgA==\", \"encoding\": \"base64\"}]"
            #expect(try await river.readChunk() == base64)
            let late = try await TestWebSocket(
                on: try await .live(port: b.port),
                path: "/websocket?name=bytes&format=raw&seq=0"
            )
            #expect(try await late.read() == TestWebSocket.Frame(opcode: 0x2, payload: bytes))
        }
    }

    /// A message a WebSocket sends as soon as it is connected comes back to
    /// it: its subscription (SUBSCRIBE, then the catch-up read that fixes its
    /// starting seq) is in place before River reads its frames. Each round is
    /// a fresh channel, so every subscription is a new round trip to Redis.
    @Test func aWebSocketGetsWhatItSendsOnceConnected() async throws {
        let redis = try await RedisServerProcess.launch()
        let node = try await self.node(redis)
        try await self.stopping(node) {
            for round in 1...40 {
                do {
                    let socket = try await TestWebSocket(
                        on: try await .live(port: node.port),
                        path: "/websocket?name=echo\(round)&format=raw"
                    )
                    try await socket.send(text: "hello \(round)")
                    #expect(try await socket.readText() == "hello \(round)")
                    await socket.close()
                } catch {
                    Issue.record("round \(round): \(error); the node said:\n\(node.standardError)")
                    return
                }
            }
        }
    }

    /// A subscriber hopping between nodes, resuming with its last seq each
    /// time while a publisher goes on, gets every message once, in order.
    @Test func resumingOnAnotherNodeMissesNothing() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b, c) = (try await self.node(redis), try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b, c) {
            let total = 600
            let received = try await withThrowingTaskGroup(of: [Int].self) { group in
                group.addTask {
                    let connection = try await TestConnection.live(port: a.port)
                    for index in 1...total {
                        try await connection.sendRequest("GET", "/publish?name=hop&data=\(index)")
                        let status = try await connection.readResponse().status
                        guard status == 200 else { throw TestFailure("publish \(index) answered \(status)") }
                        // The subscriber hops while publishing goes on.
                        if index % 40 == 0 { try await Task.sleep(for: .milliseconds(2)) }  // (pacing)
                    }
                    await connection.close()
                    return []
                }
                group.addTask {
                    var received: [Int] = []
                    var hops = 0
                    while (received.last ?? 0) < total {
                        let connection = try await TestConnection.live(port: hops % 2 == 0 ? b.port : c.port)
                        try await connection.sendRequest("GET", "/subscribe?name=hop&seq=\(received.last ?? 0)")
                        _ = try await connection.readHead()
                        for _ in 0..<(1 + hops % 9) where (received.last ?? 0) < total {
                            guard let chunk = try await connection.readChunk() else { break }
                            received.append(try parseMessage(chunk).seq)
                        }
                        await connection.close()
                        hops += 1
                    }
                    return received
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(received == Array(1...total))
        }
    }

    @Test func theOtherNodesCarryOnWhenOneIsKilled() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b, c) = (try await self.node(redis), try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b, c) {
            let onC = try await self.stream(c, "name=survivors")
            let onB = try await self.stream(b, "name=survivors")
            #expect(try await self.publish(b, "survivors", "before").status == 200)
            #expect(try await onC.readChunk() == riverMessage("survivors", 1, "\"before\""))
            #expect(try await onB.readChunk() == riverMessage("survivors", 1, "\"before\""))

            b.signal(SIGKILL)
            #expect(try await b.exited() != nil)
            await #expect(throws: TestFailure.self, "the killed node's stream is cut") { try await onB.readChunk() }
            #expect(try await self.publish(a, "survivors", "after").status == 200)
            #expect(try await onC.readChunk() == riverMessage("survivors", 2, "\"after\""))
            #expect(try await self.publish(c, "survivors", "still").body == "{\"channel\": \"survivors\", \"seq\": 3}")
        }
    }

    /// A node whose pub/sub connection drops while another node goes on
    /// publishing notices the gap and reads the missed messages from the
    /// history: its subscriber gets every message once, in order.
    @Test func aNodeThatMissedLiveMessagesRefetchesThem() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b) = (try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b) {
            let onB = try await self.stream(b, "name=gap")
            #expect(try await self.publish(a, "gap", "m1").status == 200)
            #expect(try await onB.readChunk() == riverMessage("gap", 1, "\"m1\""))

            #expect(try await redis.ask("CLIENT", "KILL", "TYPE", "pubsub").hasPrefix(":"))
            let publisher = try await TestConnection.live(port: a.port)
            for index in 2...40 {
                try await publisher.sendRequest("GET", "/publish?name=gap&data=m\(index)")
                #expect(try await publisher.readResponse().status == 200)
                if index == 20 {
                    // b subscribes again (its pub/sub connection is back): what follows reaches it live.
                    try await eventually("b subscribes to river:{gap} again") {
                        try await RedisServerProcess.ask(port: redis.port, "PUBSUB", "NUMSUB", "river:{gap}")
                            .hasSuffix(":1\r\n")
                    }
                }
            }
            await publisher.close()
            for seq in 2...40 {
                #expect(try await onB.readChunk() == riverMessage("gap", seq, "\"m\(seq)\""))
            }
        }
    }

    /// While Redis is down, publishes answer 503 (nothing acknowledged is
    /// lost) and open streams stay open; when it is back, publishing and
    /// delivery resume where they were.
    @Test func redisOutageRefusesPublishesKeepsStreamsAndResumes() async throws {
        let redis = try await RedisServerProcess.launch(persistent: true)
        let (a, b) = (try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b) {
            let onB = try await self.stream(b, "name=outage")
            #expect(try await self.publish(a, "outage", "one").status == 200)
            #expect(try await onB.readChunk() == riverMessage("outage", 1, "\"one\""))

            try await redis.halt()
            let refused = try await self.publish(a, "outage", "lost", until: 503)
            #expect(refused.status == 503)
            #expect(refused.body.contains("Redis"), "\(refused.body)")
            // The stream stays open and quiet (and the next chunk on it below is the next message).
            #expect(try await onB.unreadBytesNow() == [])
            #expect(await onB.isClosedByServer() == false)

            try await redis.restart()
            let published = try await self.publish(a, "outage", "two", until: 200)
            #expect(published.body == "{\"channel\": \"outage\", \"seq\": 2}", "the refused publish took no seq")
            #expect(try await onB.readChunk() == riverMessage("outage", 2, "\"two\""))
        }
    }

    /// A Redis out of memory (`noeviction`) refuses the publish script:
    /// the publish is answered 503 with Redis's reason, and nothing is acknowledged.
    @Test func aFullRedisRefusesPublishesWith503() async throws {
        let redis = try await RedisServerProcess.launch()
        let node = try await self.node(redis)
        try await self.stopping(node) {
            #expect(try await redis.ask("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK")
            #expect(try await redis.ask("CONFIG", "SET", "maxmemory", "2mb") == "+OK")
            let message = String(repeating: "x", count: 60_000)
            let publisher = try await TestConnection.live(port: node.port)
            var response: TestConnection.Response
            var index = 0
            repeat {
                try await publisher.sendRequest("POST", "/publish?name=full\(index % 20)", body: message)
                response = try await publisher.readResponse()
                index += 1
            } while response.status == 200 && index < 200
            await publisher.close()
            #expect(response.status == 503)
            #expect(response.body.contains("OOM"), "\(response.body)")
            #expect(!response.body.dropLast().contains("\n"), "one line")
        }
    }

    /// A Redis that comes back empty is a new history: streams end cleanly,
    /// and a client resuming with its seq and epoch is told `reset`.
    @Test func redisRestartedEmptyIsReportedAsAReset() async throws {
        let redis = try await RedisServerProcess.launch()
        let (a, b) = (try await self.node(redis), try await self.node(redis))
        try await self.stopping(a, b) {
            let (onB, notices) = try await self.announcedStream(b, "name=fresh")
            let live = try #require(notices.last)
            let epoch = try #require(live.split(separator: "\"epoch\": ").last.map { $0.dropLast(2) })
            for index in 1...3 {
                #expect(try await self.publish(a, "fresh", "old\(index)").status == 200)
            }
            for seq in 1...3 {
                #expect(try await onB.readChunk() == riverMessage("fresh", seq, "\"old\(seq)\""))
            }

            try await redis.halt()
            try await redis.restart()
            #expect(try await self.publish(a, "fresh", "new", until: 200).status == 200)
            #expect(try await onB.readChunk() == nil, "the stream ended cleanly")

            let (resumed, resumedNotices) = try await self.announcedStreamOnceServed(
                b,
                "name=fresh&seq=3&epoch=\(epoch)"
            )
            let notice = try #require(resumedNotices.first)
            #expect(maskingEpochs(notice) == "[\"reset\", {\"channel\": \"fresh\", \"seq\": 1, \"epoch\": E}]")
            #expect(!notice.contains("\"epoch\": \(epoch)}"))
            #expect(try await resumed.readChunk() == riverMessage("fresh", 1, "\"new\""))
        }
    }
}
