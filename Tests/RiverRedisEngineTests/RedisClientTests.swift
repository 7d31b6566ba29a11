import Logging
import NIOCore
import NIOPosix
import RiverTesting
import Testing

@testable import RiverRedisEngine

/// The connection against a real `redis-server`: pipelining, pub/sub pushes,
/// failing fast while Redis is down and reconnecting when it is back.
@Suite struct RedisClientTests {
    func withClient(
        _ redis: RedisServerProcess,
        subscriptions: Bool = false,
        loadsScripts: Bool = false,
        _ body: (NIOLoopBound<RedisClient>, EventLoop) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        var quiet = Logger(label: "redis-client-test")
        quiet.logLevel = .critical
        let logger = quiet
        let address = try RedisAddress(redis.url)
        let client = try await loop.submit {
            NIOLoopBound(
                RedisClient(
                    target: .address(address),
                    isSubscriptionConnection: subscriptions,
                    loadsScripts: loadsScripts,
                    eventLoop: loop,
                    logger: logger
                ),
                eventLoop: loop
            )
        }.get()
        try await loop.flatSubmit { client.value.start() }.get()
        do {
            try await body(client, loop)
        } catch {
            try? await loop.flatSubmit { client.value.stop() }.get()
            try await group.shutdownGracefully()
            throw error
        }
        try await loop.flatSubmit { client.value.stop() }.get()
        try await group.shutdownGracefully()
    }

    func send(_ client: NIOLoopBound<RedisClient>, _ loop: EventLoop, _ command: RESPCommand) async throws -> RESPValue
    {
        try await loop.flatSubmit { client.value.send(command) }.get()
    }

    /// Whether PING is answered again within 10 s (the client reconnects after its own backoff).
    func reconnects(_ client: NIOLoopBound<RedisClient>, _ loop: EventLoop) async throws -> Bool {
        let answered: Void? = try? await eventually("PING is answered") {
            (try? await self.send(client, loop, RESPCommand("PING"))) == .simpleString("PONG")
        }
        return answered != nil
    }

    @Test func pipelinedRepliesMatchTheirCommandsInOrder() async throws {
        let redis = try await RedisServerProcess.launch()
        try await withClient(redis) { client, loop in
            let replies = try await loop.flatSubmit {
                let futures = (1...1000).map { _ in client.value.send(RESPCommand("INCR", "counter")) }
                return EventLoopFuture.whenAllSucceed(futures, on: loop)
            }.get()
            #expect(replies.map(\.integer) == (1...1000).map { Int64($0) })
            let unknown = try await self.send(client, loop, RESPCommand("NOSUCHCOMMAND"))
            guard case .error(let message) = unknown else {
                Issue.record("expected an error reply, got \(unknown)")
                return
            }
            #expect(message.hasPrefix("ERR"))
            #expect(try await self.send(client, loop, RESPCommand("PING")) == .simpleString("PONG"))
        }
    }

    @Test func scriptsRunBySHAAndLoadThemselves() async throws {
        let redis = try await RedisServerProcess.launch()
        let script = RedisScript("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
        try await withClient(redis) { client, loop in
            for _ in 0..<2 {  // NOSCRIPT then EVAL, then EVALSHA alone
                let reply = try await loop.flatSubmit {
                    script.run(on: client.value, keys: [.text("k")], arguments: [.text("v"), .integer(41)])
                }.get()
                #expect(reply.array?.map(\.string) == ["k", "v", "42"])
            }
            let failing = RedisScript("return redis.error_reply('nope')")
            await #expect(throws: RedisReplyError.self) {
                try await loop.flatSubmit { failing.run(on: client.value, keys: [], arguments: []) }.get()
            }
        }
    }

    /// River's scripts are in Redis before a command connection carries anything else, and
    /// again after Redis restarts empty: pipelined EVALSHAs never meet NOSCRIPT, whose EVAL
    /// retry would run them out of order (1000 pipelined publishes on a fresh Redis got
    /// seqs out of their order before this).
    @Test func theScriptsAreLoadedBeforeAnythingElseOnEveryConnection() async throws {
        let redis = try await RedisServerProcess.launch()
        let shas = RedisScripts.all.map(\.sha1)
        func loaded() async throws -> Bool {
            let reply = try await redis.askWhole(["SCRIPT", "EXISTS"] + shas)
            return reply == "*\(shas.count)\r\n" + String(repeating: ":1\r\n", count: shas.count)
        }
        #expect(try await !loaded())
        try await withClient(redis, loadsScripts: true) { client, loop in
            // The first command after start: the scripts went before it on the same connection.
            #expect(try await self.send(client, loop, RESPCommand("PING")) == .simpleString("PONG"))
            #expect(try await loaded())
            try await redis.halt()
            try await redis.restart()
            #expect(try await self.reconnects(client, loop))
            #expect(try await loaded())
        }
    }

    @Test func subscriptionConnectionsHandPushesOn() async throws {
        let redis = try await RedisServerProcess.launch()
        try await withClient(redis, subscriptions: true) { client, loop in
            let (pushes, continuation) = AsyncStream.makeStream(of: String.self)
            try await loop.submit {
                client.value.onPush = { channel, payload in
                    continuation.yield(String(buffer: channel) + "=" + String(buffer: payload))
                }
            }.get()
            let confirmed = try await self.send(client, loop, RESPCommand("SUBSCRIBE", "news"))
            #expect(confirmed.array?.first?.string == "subscribe")
            #expect(try await redis.ask("PUBLISH", "news", "hello\r\nworld") == ":1")
            var iterator = pushes.makeAsyncIterator()
            #expect(await iterator.next() == "news=hello\r\nworld")
        }
    }

    @Test func commandsFailAtOnceWhileRedisIsDownAndWorkWhenItIsBack() async throws {
        let redis = try await RedisServerProcess.launch()
        try await withClient(redis) { client, loop in
            #expect(try await self.send(client, loop, RESPCommand("SET", "k", "v")) == .simpleString("OK"))
            try await redis.halt()
            // The client sees Redis gone in its own time: until then a command may still go through.
            let failed: Void? = try? await eventually("a command fails while Redis is down") {
                do {
                    _ = try await self.send(client, loop, RESPCommand("PING"))
                    return false
                } catch {
                    return true
                }
            }
            #expect(failed != nil)
            try await redis.restart()
            #expect(try await self.reconnects(client, loop), "reconnected within 10 s")
            #expect(try await self.send(client, loop, RESPCommand("GET", "k")) == .bulkString(nil))  // restarted empty
        }
    }

    /// A Redis that stops reading and answering (SIGSTOP) is not buffered
    /// for without bound: past the write buffer's high-water mark commands
    /// fail at once; a connection with no answer for the reply timeout is
    /// closed, failing what it carried; when Redis is back, the client is too.
    @Test func aRedisThatStopsAnsweringIsGivenUp() async throws {
        let redis = try await RedisServerProcess.launch()
        try await withClient(redis) { client, loop in
            redis.suspend()
            let value = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20)
            var replies: [EventLoopFuture<RESPValue>] = []
            for _ in 0..<48 {  // (one tick each: each is flushed before the next is sent)
                replies.append(
                    try await loop.submit { client.value.send(RESPCommand("SET", [.text("k"), .bytes(value)])) }.get()
                )
            }
            var backlogged = 0
            for reply in replies.suffix(8) {
                do {
                    _ = try await reply.get()
                } catch RedisConnectionError.backlogged {
                    backlogged += 1
                }
            }
            #expect(backlogged == 8, "once 4 MB wait unsent, commands fail at once")
            try await loop.submit { client.value.checkStalled(now: .now() + .seconds(6), timeout: .seconds(5)) }.get()
            await #expect(throws: RedisConnectionError.self) { try await replies[0].get() }
            redis.resume()
            #expect(try await self.reconnects(client, loop), "reconnected within 10 s")
        }
    }

    /// The kit never mistakes another test's redis-server for the one it started: a server whose
    /// port is taken cannot bind it, and the one that answers there is not it (its process id).
    @Test func aServerThatCannotBindItsPortIsNotTakenForTheOneThatAnswers() async throws {
        let first = try await RedisServerProcess.launch()
        await #expect(throws: RedisServerProcess.PortTaken.self) {
            _ = try await RedisServerProcess.launch(port: first.port)
        }
        #expect(try await first.ask("PING") == "+PONG")
    }

    /// Nothing a connection made outlives it: after Redis kills the
    /// connection (CLIENT KILL) and the client reconnects, the old channel,
    /// its decoder and its handler are all freed (a handler that kept its
    /// context would keep itself, its pipeline and its channel alive).
    @Test(arguments: [false, true])
    func aKilledConnectionLeavesNothingBehind(subscriptions: Bool) async throws {
        let redis = try await RedisServerProcess.launch()
        try await withClient(redis, subscriptions: subscriptions) { client, loop in
            let old = try await loop.submit { () -> ConnectionReferences in
                let channel = client.value.channel!
                return ConnectionReferences(
                    channel: channel,
                    handler: client.value.handler!,
                    decoder: try! channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<RESPDecoder>.self)
                )
            }.get()
            if subscriptions {
                _ = try await loop.flatSubmit { client.value.send(RESPCommand("SUBSCRIBE", "news")) }.get()
            }
            #expect(try await redis.ask("CLIENT", "KILL", "TYPE", subscriptions ? "pubsub" : "normal") == ":1")
            let reconnected: Void? = try? await eventually("the client has a new connection") {
                try await loop.submit { client.value.handler.map { $0 !== old.handler } ?? false }.get()
            }
            #expect(reconnected != nil, "reconnected within 10 s")
            let freed: Void? = try? await eventually("the old connection is freed", timeout: .seconds(5)) {
                try await loop.submit { old.isFreed }.get()
            }
            let survivors = try await loop.submit { old.survivors }.get()
            #expect(freed != nil, "still alive after the reconnect: \(survivors)")
        }
    }
}

/// Weak references to what one connection made.
final class ConnectionReferences: @unchecked Sendable {
    weak var channel: Channel?
    weak var handler: RedisConnectionHandler?
    weak var decoder: ByteToMessageHandler<RESPDecoder>?

    init(channel: Channel, handler: RedisConnectionHandler, decoder: ByteToMessageHandler<RESPDecoder>) {
        self.channel = channel
        self.handler = handler
        self.decoder = decoder
    }

    var isFreed: Bool { self.channel == nil && self.handler == nil && self.decoder == nil }

    var survivors: [String] {
        [self.channel.map { _ in "channel" }, self.handler.map { _ in "handler" }, self.decoder.map { _ in "decoder" }]
            .compactMap { $0 }
    }
}
