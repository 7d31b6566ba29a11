import Logging
import NIOCore
import NIOPosix
import RiverTestSupport
import Testing

@testable import RiverRedisEngine

/// The connection against a real `redis-server`: pipelining, pub/sub pushes,
/// failing fast while Redis is down and reconnecting when it is back.
@Suite struct RedisClientTests {
    func withClient(
        _ redis: RedisServerProcess,
        subscriptions: Bool = false,
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
                RedisClient(address: address, isSubscriptionConnection: subscriptions, eventLoop: loop, logger: logger),
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

    @Test func pipelinedRepliesMatchTheirCommandsInOrder() async throws {
        let redis = try RedisServerProcess()
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
        let redis = try RedisServerProcess()
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

    @Test func subscriptionConnectionsHandPushesOn() async throws {
        let redis = try RedisServerProcess()
        try await withClient(redis, subscriptions: true) { client, loop in
            let (pushes, continuation) = AsyncStream.makeStream(of: String.self)
            try await loop.submit {
                client.value.onPush = { channel, payload in
                    continuation.yield(String(buffer: channel) + "=" + String(buffer: payload))
                }
            }.get()
            let confirmed = try await self.send(client, loop, RESPCommand("SUBSCRIBE", "news"))
            #expect(confirmed.array?.first?.string == "subscribe")
            #expect(try redis.command("PUBLISH", "news", "hello\r\nworld") == ":1")
            var iterator = pushes.makeAsyncIterator()
            #expect(await iterator.next() == "news=hello\r\nworld")
        }
    }

    @Test func commandsFailAtOnceWhileRedisIsDownAndWorkWhenItIsBack() async throws {
        let redis = try RedisServerProcess()
        try await withClient(redis) { client, loop in
            #expect(try await self.send(client, loop, RESPCommand("SET", "k", "v")) == .simpleString("OK"))
            redis.stop()
            var failed = false
            for _ in 0..<100 where !failed {
                do {
                    _ = try await self.send(client, loop, RESPCommand("PING"))
                    try await Task.sleep(for: .milliseconds(10))
                } catch {
                    failed = true
                }
            }
            #expect(failed)
            try redis.start()
            var answered = false
            for _ in 0..<300 where !answered {
                answered = (try? await self.send(client, loop, RESPCommand("PING"))) == .simpleString("PONG")
                if !answered { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(answered, "reconnected within 3 s")
            #expect(try await self.send(client, loop, RESPCommand("GET", "k")) == .bulkString(nil))  // restarted empty
        }
    }
}
