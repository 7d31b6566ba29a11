import Logging
import NIOCore
import NIOPosix
import RiverCore
import RiverMemoryEngine
import RiverRedisEngine
import RiverTesting
import Testing

/// The `Engine` contract, run against every engine: the memory engine and
/// the Redis engine on a real `redis-server`. Transports rely on exactly
/// this, so either engine can sit behind them.
@Suite struct EngineConformanceTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case memory
        case redis

        var testDescription: String { self.rawValue }
    }

    /// Runs `body` with a fresh engine of `kind` on `threads` event loops
    /// (`redisStarted` is given the `redis-server` of a Redis engine).
    func withEngine(
        _ kind: Kind,
        threads: Int = 2,
        limits: HistoryLimits = HistoryLimits(size: 1000),
        leaveDelay: TimeAmount = .seconds(5),
        redisStarted: (RedisServerProcess) -> Void = { _ in },
        _ body: (Engine, FanOut, MultiThreadedEventLoopGroup) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let fanOut = FanOut(group: group)
        var redis: RedisServerProcess?
        let engine: Engine
        switch kind {
        case .memory:
            engine = MemoryEngine(fanOut: fanOut, limits: limits, presenceLeaveDelay: leaveDelay)
        case .redis:
            let server = try await RedisServerProcess.launch()
            redis = server
            redisStarted(server)
            var logger = Logger(label: "redis-engine-test")
            logger.logLevel = .critical
            var settings = RedisEngine.Settings(address: try RedisAddress(server.url), limits: limits)
            settings.presenceLeaveDelay = leaveDelay
            engine = await RedisEngine.start(fanOut: fanOut, settings: settings, logger: logger)
        }
        do {
            try await body(engine, fanOut, group)
        } catch {
            await engine.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await engine.shutdown()
        try await group.shutdownGracefully()
        try await redis?.halt()
    }

    func name(_ text: String) -> ChannelName { try! ChannelName(validating: text, maxBytes: 64) }

    /// A channel whose home is loop `home` among `count`.
    func name(homedOn home: Int, among count: Int, prefix: String) -> ChannelName {
        (0...).lazy.map { self.name("\(prefix)\($0)") }.first { $0.homeIndex(among: count) == home }!
    }

    func publish(_ engine: Engine, _ count: Int, to channel: ChannelName, on loop: EventLoop) async throws {
        for index in 0..<count {
            _ = try await engine.publish(ByteBuffer(string: "m\(index + 1)"), to: channel, on: loop).get()
        }
    }

    /// Subscribes on hub `hub` from `point`, as a transport does: the catch-up
    /// is applied and the subscriber registered in the completion.
    func subscribe(
        _ engine: Engine,
        _ fanOut: FanOut,
        hub: Int,
        to channel: ChannelName,
        from point: ResumePoint
    ) async throws -> (subscriber: NIOLoopBound<RecordingSubscriber>, catchUp: CatchUp) {
        let hubBox = fanOut.hubs[hub]
        return try await hubBox.eventLoop.flatSubmit {
            engine.subscribe(to: channel, from: point, hubIndex: hub).map { subscribed in
                let subscriber = RecordingSubscriber()
                subscriber.apply(subscribed.catchUp)
                hubBox.value.add(subscriber, to: channel)
                return (NIOLoopBound(subscriber, eventLoop: hubBox.eventLoop), subscribed.catchUp)
            }
        }.get()
    }

    func received(_ subscriber: NIOLoopBound<RecordingSubscriber>) async throws -> [UInt64] {
        try await subscriber.eventLoop.submit { subscriber.value.received }.get()
    }

    func messages(_ subscriber: NIOLoopBound<RecordingSubscriber>) async throws -> [Message] {
        try await subscriber.eventLoop.submit { subscriber.value.messages }.get()
    }

    /// Waits until `channel` has a message: publishing is under way.
    func publishingHasBegun(_ engine: Engine, _ channel: ChannelName, on loop: EventLoop) async throws {
        try await RiverTesting.eventually("publishing to \(channel.value) has begun") {
            (try await engine.info(channel, on: loop).get()?.seq ?? 0) > 0
        }
    }

    /// Whether `condition` holds within five seconds (the shared `eventually`, as a Bool for `#expect`).
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        do {
            try await RiverTesting.eventually("the condition holds", timeout: .seconds(5), condition)
            return true
        } catch is TimedOut {
            return false
        }
    }

    @Test(arguments: Kind.allCases)
    func seqCountsFromOnePerChannelAndHistoryIsKeptWithoutSubscribers(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let loop = group.next()
            for expected: UInt64 in 1...5 {
                #expect(
                    try await engine.publish(ByteBuffer(string: "x"), to: self.name("a"), on: loop).get() == expected
                )
            }
            #expect(try await engine.publish(ByteBuffer(string: "x"), to: self.name("b"), on: loop).get() == 1)
            let info = try await engine.info(self.name("a"), on: loop).get()
            #expect(info?.seq == 5)
            #expect(info?.history == 5)
            #expect(info?.firstSeq == 1)
            #expect(info?.subscribers == 0)
            #expect(info?.lastPublishMillis != nil)
            let (_, catchUp) = try await self.subscribe(engine, fanOut, hub: 0, to: self.name("a"), from: .init(seq: 0))
            #expect(catchUp.messages.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(catchUp.messages.map { String(buffer: $0.payload) } == ["x", "x", "x", "x", "x"])
            #expect(catchUp.notices.isEmpty)
            #expect(catchUp.lastSeq == 5)
        }
    }

    /// The seed's example: after 1000 publishes, `seq=990` gives exactly 10.
    @Test(arguments: Kind.allCases)
    func catchUpGivesExactlyWhatFollowsTheSeq(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let channel = self.name("seed")
            let loop = group.next()
            let publishes = (0..<1000).map { index in
                engine.publish(ByteBuffer(string: "\(index + 1)"), to: channel, on: loop)
            }
            _ = try await EventLoopFuture.whenAllSucceed(publishes, on: loop).get()
            let (_, catchUp) = try await self.subscribe(engine, fanOut, hub: 1, to: channel, from: .init(seq: 990))
            #expect(catchUp.messages.map(\.seq) == Array(991...1000))
            #expect(catchUp.messages.map { String(buffer: $0.payload) } == (991...1000).map { "\($0)" })
            #expect(catchUp.notices.isEmpty)
        }
    }

    @Test(arguments: Kind.allCases)
    func trimmedHistoryIsReportedLost(kind: Kind) async throws {
        try await withEngine(kind, limits: HistoryLimits(size: 5)) { engine, fanOut, group in
            let channel = self.name("short")
            try await self.publish(engine, 10, to: channel, on: group.next())
            let (_, catchUp) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .init(seq: 2))
            #expect(catchUp.notices == [.lost(from: 3, to: 5)])
            #expect(catchUp.messages.map(\.seq) == [6, 7, 8, 9, 10])
        }
    }

    @Test(arguments: Kind.allCases)
    func seqAheadOrAnotherEpochIsAResetAndHelloNamesTheStart(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let channel = self.name("epochs")
            try await self.publish(engine, 3, to: channel, on: group.next())
            let (_, hello) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .init(hello: true))
            guard case .live(let seq, let epoch) = hello.notices.first else {
                Issue.record("expected a live notice, got \(hello.notices)")
                return
            }
            #expect(seq == 3)
            #expect(hello.messages.isEmpty)

            let (_, ahead) = try await self.subscribe(engine, fanOut, hub: 1, to: channel, from: .init(seq: 7))
            #expect(ahead.notices == [.reset(current: 3, epoch: epoch)])
            #expect(ahead.messages.map(\.seq) == [1, 2, 3])

            let (_, other) = try await self.subscribe(
                engine,
                fanOut,
                hub: 0,
                to: channel,
                from: .init(seq: 2, epoch: epoch &+ 1)
            )
            #expect(other.notices == [.reset(current: 3, epoch: epoch)])
            #expect(other.messages.map(\.seq) == [1, 2, 3])

            let (_, same) = try await self.subscribe(
                engine,
                fanOut,
                hub: 1,
                to: channel,
                from: .init(seq: 2, epoch: epoch)
            )
            #expect(same.notices.isEmpty)
            #expect(same.messages.map(\.seq) == [3])
        }
    }

    /// Subscribers on both loops of a channel homed on loop 0, subscribing
    /// while publishes race from both loops: catch-up then live, each
    /// message exactly once, in order.
    @Test(arguments: Kind.allCases)
    func subscribersAreGaplessWhilePublishesRace(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let loops = Array(group.makeIterator())
            let channel = self.name(homedOn: 0, among: 2, prefix: "race")
            let publishing = Task {
                for index in 0..<400 {
                    _ = try await engine.publish(ByteBuffer(string: "\(index)"), to: channel, on: loops[index % 2])
                        .get()
                }
            }
            try await self.publishingHasBegun(engine, channel, on: group.next())
            let (first, _) = try await self.subscribe(engine, fanOut, hub: 1, to: channel, from: .init(seq: 0))
            let (second, _) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .init(seq: 0))
            try await publishing.value
            #expect(try await self.eventually { try await self.received(first).count == 400 })
            #expect(try await self.received(first) == Array(1...400))
            #expect(try await self.eventually { try await self.received(second).count == 400 })
            #expect(try await self.received(second) == Array(1...400))
        }
    }

    /// A binary payload (bytes that are not UTF-8, NUL, CR LF) comes back
    /// byte for byte and flagged binary, live and from history; text stays text.
    @Test(arguments: Kind.allCases)
    func binaryPayloadsKeepTheirBytesAndTheirFlag(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let channel = self.name("bytes")
            let loop = group.next()
            let bytes: [UInt8] = [0x00, 0xFF, 0xC3, 0x28, 0x0D, 0x0A, 0x20]
            let (live, _) = try await self.subscribe(engine, fanOut, hub: 1, to: channel, from: .live)
            #expect(
                try await engine.publish(ByteBuffer(bytes: bytes), isBinary: true, to: channel, on: loop).get() == 1
            )
            #expect(try await engine.publish(ByteBuffer(string: "text"), to: channel, on: loop).get() == 2)
            #expect(try await self.eventually { try await self.messages(live).count == 2 })
            let delivered = try await self.messages(live)
            #expect(delivered.map { Array($0.payload.readableBytesView) } == [bytes, Array("text".utf8)])
            #expect(delivered.map(\.isBinary) == [true, false])

            let (_, catchUp) = try await self.subscribe(engine, fanOut, hub: 0, to: channel, from: .init(seq: 0))
            #expect(catchUp.messages.map { Array($0.payload.readableBytesView) } == [bytes, Array("text".utf8)])
            #expect(catchUp.messages.map(\.isBinary) == [true, false])
        }
    }

    @Test(arguments: Kind.allCases)
    func deleteFinishesSubscribersOnEveryLoopAndTheChannelStartsOver(kind: Kind) async throws {
        try await withEngine(kind) { engine, fanOut, group in
            let channel = self.name("doomed")
            try await self.publish(engine, 2, to: channel, on: group.next())
            var subscribers: [NIOLoopBound<RecordingSubscriber>] = []
            for hub in fanOut.hubs.indices {
                subscribers.append(
                    try await self.subscribe(engine, fanOut, hub: hub, to: channel, from: .live).subscriber
                )
            }
            #expect(try await engine.info(channel, on: group.next()).get()?.subscribers == 2)
            #expect(try await engine.delete(channel, on: group.next()).get())
            for subscriber in subscribers {
                #expect(
                    try await self.eventually {
                        try await subscriber.eventLoop.submit { subscriber.value.finished }.get() == .channelDeleted
                    }
                )
            }
            #expect(try await engine.info(channel, on: group.next()).get() == nil)
            #expect(try await !engine.delete(channel, on: group.next()).get())
            #expect(try await engine.publish(ByteBuffer(string: "again"), to: channel, on: group.next()).get() == 1)
        }
    }

    @Test(arguments: Kind.allCases)
    func channelsAreListedByPrefixInPages(kind: Kind) async throws {
        try await withEngine(kind) { engine, _, group in
            let loop = group.next()
            for name in ["room-c", "room-a", "lobby", "room-b", "room-d"] {
                _ = try await engine.publish(ByteBuffer(string: "x"), to: self.name(name), on: loop).get()
            }
            let first = try await engine.list(prefix: "room-", after: nil, limit: 3, on: loop).get()
            #expect(first.map(\.value) == ["room-a", "room-b", "room-c"])
            let second = try await engine.list(prefix: "room-", after: "room-c", limit: 3, on: loop).get()
            #expect(second.map(\.value) == ["room-d"])
            #expect(try await engine.list(prefix: "", after: nil, limit: 10, on: loop).get().count == 5)
            #expect(try await engine.statistics(on: loop).get().messagesPublished == 5)
        }
    }
}

extension EngineConformanceTests {
    /// `room-\u{F1}…` and `room-n\u{303}…` are one text to Swift's `String`
    /// but two byte strings, so two channels: each keeps its own seq, history
    /// and subscribers, whatever loops they live on.
    @Test(arguments: Kind.allCases)
    func twoSpellingsOfOneTextAreTwoChannels(kind: Kind) async throws {
        // Suffixes that send the two spellings to different home loops.
        let suffix = (0...).first {
            self.name("room-\u{F1}\($0)").homeIndex(among: 2) != self.name("room-n\u{303}\($0)").homeIndex(among: 2)
        }!
        let composed = self.name("room-\u{F1}\(suffix)")
        let decomposed = self.name("room-n\u{303}\(suffix)")
        #expect(composed.value == decomposed.value, "Swift's String equality would merge them")
        #expect(composed != decomposed)
        try await withEngine(kind) { engine, fanOut, group in
            var subscribers: [(NIOLoopBound<RecordingSubscriber>, ChannelName)] = []
            for hub in 0..<2 {
                for channel in [composed, decomposed] {
                    subscribers.append(
                        (
                            try await self.subscribe(engine, fanOut, hub: hub, to: channel, from: .live).subscriber,
                            channel
                        )
                    )
                }
            }
            let loop = group.next()
            #expect(try await engine.publish(ByteBuffer(string: "composed"), to: composed, on: loop).get() == 1)
            #expect(try await engine.publish(ByteBuffer(string: "decomposed"), to: decomposed, on: loop).get() == 1)
            for (subscriber, channel) in subscribers {
                let expected = channel == composed ? ["composed"] : ["decomposed"]
                #expect(
                    try await self.eventually {
                        try await subscriber.eventLoop.submit { subscriber.value.payloads }.get() == expected
                    }
                )
            }
            let info = try await engine.info(decomposed, on: loop).get()
            #expect(info?.seq == 1)
            #expect(info?.channel.value.utf8.elementsEqual(decomposed.value.utf8) == true)
            let listed = try await engine.list(prefix: "room-", after: nil, limit: 10, on: loop).get()
            #expect(Set(listed) == [composed, decomposed])
            // A prefix is bytes too: "room-n" starts the decomposed name only.
            #expect(try await engine.list(prefix: "room-n", after: nil, limit: 10, on: loop).get() == [decomposed])
            #expect(try await engine.delete(composed, on: loop).get())
            #expect(try await engine.info(decomposed, on: loop).get()?.seq == 1)
        }
    }
}

/// A subscriber that records what reaches it (on its loop).
final class RecordingSubscriber: Subscriber {
    var received: [UInt64] = []
    var messages: [Message] = []
    /// The payloads received, as text, in order.
    var payloads: [String] = []
    var finished: FinishReason?
    /// The joins and leaves received, as `join USER`.
    var presence: [String] = []
    /// Who subscribed: as a transport does, it is not told of its own joins and leaves.
    var member: PresenceMember?

    init() {
        super.init(wantsPresence: true)
    }

    func apply(_ catchUp: CatchUp) {
        for message in catchUp.messages where message.seq > self.deliveredSeq {
            self.received.append(message.seq)
            self.messages.append(message)
            self.payloads.append(String(buffer: message.payload))
            self.deliveredSeq = message.seq
        }
        self.deliveredSeq = max(self.deliveredSeq, catchUp.lastSeq)
    }

    override func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        var count = DeliveryCount()
        for message in messages where message.seq > self.deliveredSeq {
            self.received.append(message.seq)
            self.messages.append(message.message)
            self.payloads.append(String(buffer: message.message.payload))
            self.deliveredSeq = message.seq
            count.messages += 1
        }
        return count
    }

    override func finish(_ reason: FinishReason) { self.finished = reason }

    override func presenceChanged(_ event: EncodedPresenceEvent) {
        guard event.event.member != self.member else { return }
        self.presence.append("\(event.event.kind) \(event.event.member)")
    }
}
