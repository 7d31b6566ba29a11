import Foundation
import RiverTesting
import Synchronization
import Testing

/// Several `river` processes on one real Redis act as one service.
@Suite struct ScalingOutTests: RiverNodeTesting {
    func node(_ redis: RedisServerProcess, _ extra: [String] = []) throws -> RiverProcess {
        try RiverProcess(
            ["--engine", "redis", "--redis", redis.url, "--threads", "2", "--history-size", "1000"] + extra
        )
    }

    @Test func publishesToAnyNodeReachSubscribersOnEveryNodeInOneOrder() async throws {
        let redis = try RedisServerProcess()
        let (a, b, c) = (try self.node(redis), try self.node(redis), try self.node(redis))
        defer { self.stop(a, b, c) }
        let onB = try self.stream(b, "name=room")
        let onC = try self.stream(c, "name=room")
        // (A WebSocket's subscription completes after its handshake: seq=0 covers the moment between.)
        let socket = try SocketWebSocket(port: a.port, path: "/websocket?name=room&seq=0")

        var seqs: [Int] = []
        for index in 1...60 {
            let response = try self.publish([a, b, c][index % 3], "room", "m\(index)")
            #expect(response.status == 200)
            seqs.append(try #require(Int(response.body.split(separator: " ").last?.dropLast() ?? "")))
        }
        #expect(seqs == Array(1...60), "seq is global: one counter whichever node publishes")
        for subscriber in [onB, onC] {
            for seq in 1...60 {
                #expect(try subscriber.readChunk() == riverMessage("room", seq, "\"m\(seq)\""))
            }
        }
        for seq in 1...60 {
            #expect(try socket.readText() == riverMessage("room", seq, "\"m\(seq)\""))
        }
    }

    /// A binary message published on one node crosses Redis byte for byte:
    /// a raw WebSocket on another node gets it as a binary frame, live and
    /// replayed from Redis's history, and a river JSON stream in base64.
    @Test func aBinaryMessageCrossesRedisByteForByte() async throws {
        let redis = try RedisServerProcess()
        let (a, b) = (try self.node(redis), try self.node(redis))
        defer { self.stop(a, b) }
        let bytes: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0D, 0x0A, 0x80]
        let live = try SocketWebSocket(port: b.port, path: "/websocket?name=bytes&format=raw&seq=0")
        let river = try self.stream(b, "name=bytes")
        let publisher = try SocketWebSocket(port: a.port, path: "/websocket?name=bytes&format=raw")
        try publisher.send(opcode: 0x2, bytes)
        #expect(try live.read() == SocketWebSocket.Frame(opcode: 0x2, payload: bytes))
        #expect(try publisher.read() == SocketWebSocket.Frame(opcode: 0x2, payload: bytes))
        let base64 = "[\"msg\", {\"channel\": \"bytes\", \"seq\": 1, \"data\": \"AP/DKA0KgA==\", \"encoding\": \"base64\"}]"
        #expect(try river.readChunk() == base64)
        let late = try SocketWebSocket(port: b.port, path: "/websocket?name=bytes&format=raw&seq=0")
        #expect(try late.read() == SocketWebSocket.Frame(opcode: 0x2, payload: bytes))
    }

    /// A message a WebSocket sends as soon as it is connected comes back to
    /// it: its subscription (SUBSCRIBE, then the catch-up read that fixes its
    /// starting seq) is in place before River reads its frames. Each round is
    /// a fresh channel, so every subscription is a new round trip to Redis.
    @Test func aWebSocketGetsWhatItSendsOnceConnected() async throws {
        let redis = try RedisServerProcess()
        let node = try self.node(redis)
        defer { self.stop(node) }
        for round in 1...40 {
            do {
                let socket = try SocketWebSocket(port: node.port, path: "/websocket?name=echo\(round)&format=raw")
                try socket.send(text: "hello \(round)")
                #expect(try socket.readText() == "hello \(round)")
            } catch {
                Issue.record("round \(round): \(error); the node said:\n\(node.standardError)")
                return
            }
        }
    }

    /// A subscriber hopping between nodes, resuming with its last seq each
    /// time while a publisher goes on, gets every message once, in order.
    @Test func resumingOnAnotherNodeMissesNothing() async throws {
        let redis = try RedisServerProcess()
        let (a, b, c) = (try self.node(redis), try self.node(redis), try self.node(redis))
        defer { self.stop(a, b, c) }
        let total = 600
        let ports = (a.port, b.port, c.port)
        let received = Mutex<[Int]>([])
        try await concurrently(2) { role in
            if role == 0 {
                let connection = try SocketConnection(port: ports.0)
                for index in 1...total {
                    try connection.sendRequest("GET", "/publish?name=hop&data=\(index)")
                    guard try connection.readResponse().status == 200 else {
                        throw SocketConnection.Failure(description: "publish failed")
                    }
                    if index % 40 == 0 { usleep(2000) }
                }
                return
            }
            var last = 0
            var hops = 0
            while last < total {
                let port = hops % 2 == 0 ? ports.1 : ports.2
                let connection = try SocketConnection(port: port)
                try connection.sendRequest("GET", "/subscribe?name=hop&seq=\(last)")
                _ = try connection.readHead()
                for _ in 0..<(1 + hops % 9) where last < total {
                    guard let chunk = try connection.readChunk() else { break }
                    let (seq, _) = try parseMessage(chunk)
                    received.withLock { $0.append(seq) }
                    last = seq
                }
                connection.close()
                hops += 1
            }
        }
        #expect(received.withLock { $0 } == Array(1...total))
    }

    @Test func theOtherNodesCarryOnWhenOneIsKilled() async throws {
        let redis = try RedisServerProcess()
        let (a, b, c) = (try self.node(redis), try self.node(redis), try self.node(redis))
        defer { self.stop(a, c) }
        let onC = try self.stream(c, "name=survivors")
        let onB = try self.stream(b, "name=survivors")
        #expect(try self.publish(b, "survivors", "before").status == 200)
        #expect(try onC.readChunk() == riverMessage("survivors", 1, "\"before\""))
        #expect(try onB.readChunk() == riverMessage("survivors", 1, "\"before\""))

        b.signal(SIGKILL)
        #expect(b.waitForExit() != nil)
        #expect(throws: SocketConnection.Failure.self) { try onB.readChunk() }
        #expect(try self.publish(a, "survivors", "after").status == 200)
        #expect(try onC.readChunk() == riverMessage("survivors", 2, "\"after\""))
        #expect(try self.publish(c, "survivors", "still").body == "{\"channel\": \"survivors\", \"seq\": 3}")
    }

    /// A node whose pub/sub connection drops while another node goes on
    /// publishing notices the gap and reads the missed messages from the
    /// history: its subscriber gets every message once, in order.
    @Test func aNodeThatMissedLiveMessagesRefetchesThem() async throws {
        let redis = try RedisServerProcess()
        let (a, b) = (try self.node(redis), try self.node(redis))
        defer { self.stop(a, b) }
        let onB = try self.stream(b, "name=gap")
        #expect(try self.publish(a, "gap", "m1").status == 200)
        #expect(try onB.readChunk() == riverMessage("gap", 1, "\"m1\""))

        #expect(try redis.command("CLIENT", "KILL", "TYPE", "pubsub").hasPrefix(":"))
        let publisher = try SocketConnection(port: a.port)
        for index in 2...40 {
            try publisher.sendRequest("GET", "/publish?name=gap&data=m\(index)")
            #expect(try publisher.readResponse().status == 200)
            if index == 20 { try await Task.sleep(for: .milliseconds(300)) }  // b is back by now
        }
        for seq in 2...40 {
            #expect(try onB.readChunk() == riverMessage("gap", seq, "\"m\(seq)\""))
        }
    }

    /// While Redis is down, publishes answer 503 (nothing acknowledged is
    /// lost) and open streams stay open; when it is back, publishing and
    /// delivery resume where they were.
    @Test func redisOutageRefusesPublishesKeepsStreamsAndResumes() async throws {
        let redis = try RedisServerProcess(persistent: true)
        let (a, b) = (try self.node(redis), try self.node(redis))
        defer { self.stop(a, b) }
        let onB = try self.stream(b, "name=outage")
        #expect(try self.publish(a, "outage", "one").status == 200)
        #expect(try onB.readChunk() == riverMessage("outage", 1, "\"one\""))

        redis.stop()
        let refused = try await self.publish(a, "outage", "lost", until: 503, attempts: 100)
        #expect(refused.status == 503)
        #expect(refused.body.contains("Redis"), "\(refused.body)")
        onB.setReadTimeout(0.5)
        #expect(throws: SocketConnection.Failure.self, "the stream stays open, quiet") { try onB.readChunk() }

        try redis.start()
        let published = try await self.publish(a, "outage", "two", until: 200, attempts: 250)
        #expect(published.body == "{\"channel\": \"outage\", \"seq\": 2}", "the refused publish took no seq")
        onB.setReadTimeout(10)
        #expect(try onB.readChunk() == riverMessage("outage", 2, "\"two\""))
    }

    /// A Redis out of memory (`noeviction`) refuses the publish script:
    /// the publish is answered 503 with Redis's reason, and nothing is acknowledged.
    @Test func aFullRedisRefusesPublishesWith503() async throws {
        let redis = try RedisServerProcess()
        let node = try self.node(redis)
        defer { self.stop(node) }
        #expect(try redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK")
        #expect(try redis.command("CONFIG", "SET", "maxmemory", "2mb") == "+OK")
        let message = String(repeating: "x", count: 60_000)
        var response = try httpRequest(port: node.port, "POST", "/publish?name=full0", body: message)
        for index in 1..<200 where response.status == 200 {
            response = try httpRequest(port: node.port, "POST", "/publish?name=full\(index % 20)", body: message)
        }
        #expect(response.status == 503)
        #expect(response.body.contains("OOM"), "\(response.body)")
        #expect(!response.body.dropLast().contains("\n"), "one line")
    }

    /// A Redis that comes back empty is a new history: streams end cleanly,
    /// and a client resuming with its seq and epoch is told `reset`.
    @Test func redisRestartedEmptyIsReportedAsAReset() async throws {
        let redis = try RedisServerProcess()
        let (a, b) = (try self.node(redis), try self.node(redis))
        defer { self.stop(a, b) }
        let onB = try self.stream(b, "name=fresh&hello=1")
        let live = try #require(try onB.readChunk())
        let epoch = try #require(live.split(separator: "\"epoch\": ").last.map { $0.dropLast(2) })
        for index in 1...3 {
            #expect(try self.publish(a, "fresh", "old\(index)").status == 200)
        }
        for seq in 1...3 {
            #expect(try onB.readChunk() == riverMessage("fresh", seq, "\"old\(seq)\""))
        }

        redis.stop()
        try redis.start()
        #expect(try await self.publish(a, "fresh", "new", until: 200, attempts: 250).status == 200)
        onB.setReadTimeout(10)
        #expect(try onB.readChunk() == nil, "the stream ended cleanly")

        let resumed = try await self.stream(b, "name=fresh&seq=3&epoch=\(epoch)", attempts: 250)
        let notice = try #require(try resumed.readChunk())
        #expect(maskingEpochs(notice) == "[\"reset\", {\"channel\": \"fresh\", \"seq\": 1, \"epoch\": E}]")
        #expect(!notice.contains("\"epoch\": \(epoch)}"))
        #expect(try resumed.readChunk() == riverMessage("fresh", 1, "\"new\""))
    }
}
