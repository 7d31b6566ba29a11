import NIOCore
import NIOPosix
import RiverCore
import RiverTesting
import Synchronization
import Testing

@testable import RiverMemoryEngine

/// What only the memory engine does (retention by its own clock, `max_memory`,
/// reclamation); the `Engine` contract itself is in EngineConformanceTests.
@Suite struct MemoryEngineTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        private let current = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000))
        var clock: MonotonicClock { MonotonicClock { self.current.withLock { $0 } } }
        func advance(by amount: TimeAmount) { self.current.withLock { $0 = $0 + amount } }
    }

    func withEngine(
        threads: Int = 2,
        limits: HistoryLimits = HistoryLimits(),
        clock: MonotonicClock = .system,
        _ body: (MemoryEngine, FanOut, MultiThreadedEventLoopGroup) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let fanOut = FanOut(group: group)
        let engine = MemoryEngine(fanOut: fanOut, limits: limits, reapInterval: .milliseconds(5), clock: clock)
        do {
            try await body(engine, fanOut, group)
        } catch {
            await engine.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await engine.shutdown()
        try await group.shutdownGracefully()
    }

    func name(_ text: String) -> ChannelName { try! ChannelName(validating: text, maxBytes: 64) }

    /// Whether `condition` holds within five seconds (the reaper runs every few milliseconds):
    /// the shared `eventually`, as a Bool for `#expect`.
    func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        do {
            try await RiverTesting.eventually("the condition holds", timeout: .seconds(5), condition)
            return true
        } catch is TimedOut {
            return false
        }
    }

    @Test func historyIsBoundedByCountAndExpiresByAge() async throws {
        let time = ManualClock()
        let limits = HistoryLimits(size: 3, ttl: .seconds(10), channelIdleTTL: .seconds(5))
        try await withEngine(threads: 1, limits: limits, clock: time.clock) { engine, _, group in
            let loop = group.next()
            for _ in 0..<5 { _ = try await engine.publish(ByteBuffer(string: "x"), to: self.name("c"), on: loop).get() }
            let info = try await engine.info(self.name("c"), on: loop).get()
            #expect(info?.history == 3)
            #expect(info?.firstSeq == 3)

            time.advance(by: .seconds(11))
            #expect(try await self.eventually { try await engine.info(self.name("c"), on: loop).get()?.history == 0 })
            #expect(try await engine.info(self.name("c"), on: loop).get()?.seq == 5)  // remembered while idle

            time.advance(by: .seconds(6))
            #expect(try await self.eventually { try await engine.info(self.name("c"), on: loop).get() == nil })
            let statistics = try await engine.statistics(on: loop).get()
            #expect(statistics.channels == 0)
            #expect(statistics.historyBytes == 0)
            #expect(statistics.messagesExpired == 3)
            #expect(statistics.channelsReclaimed == 1)
        }
    }

    @Test func channelsWithSubscribersAreNotReclaimed() async throws {
        let time = ManualClock()
        let limits = HistoryLimits(size: 3, ttl: .seconds(1), channelIdleTTL: .seconds(1))
        try await withEngine(threads: 1, limits: limits, clock: time.clock) { engine, _, group in
            let loop = group.next()
            let subscription = try await engine.subscribe(to: self.name("kept"), from: .live, hubIndex: 0).get()
                .interest
            time.advance(by: .seconds(5))
            try await engine.reap(on: loop).get()
            #expect(try await engine.info(self.name("kept"), on: loop).get()?.subscribers == 1, "survived a reap")
            engine.unsubscribe(subscription)  // (queued on the store's loop before the reap below)
            try await engine.reap(on: loop).get()
            #expect(try await engine.info(self.name("kept"), on: loop).get() != nil, "idle only just now")
            time.advance(by: .seconds(2))
            try await engine.reap(on: loop).get()
            #expect(try await engine.info(self.name("kept"), on: loop).get() == nil, "idle past its TTL")
        }
    }

    /// 100,000 channels published once each are all reclaimed after their
    /// history expires, and the engine's books return to zero.
    @Test func hundredThousandChannelsAreReclaimed() async throws {
        let time = ManualClock()
        let limits = HistoryLimits(size: 10, ttl: .seconds(60), channelIdleTTL: .seconds(30))
        try await withEngine(threads: 2, limits: limits, clock: time.clock) { engine, _, group in
            let loop = group.next()
            let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 200)
            for index in 0..<100_000 {
                _ = engine.publish(payload, to: self.name("ch\(index)"), on: loop)
            }
            _ = try await engine.publish(payload, to: self.name("last"), on: loop).get()
            let full = try await engine.statistics(on: loop).get()
            #expect(full.channels == 100_001)
            #expect(full.historyMessages == 100_001)
            time.advance(by: .seconds(61))
            #expect(try await self.eventually { try await engine.statistics(on: loop).get().historyMessages == 0 })
            time.advance(by: .seconds(31))
            #expect(try await self.eventually { try await engine.statistics(on: loop).get().channels == 0 })
            let empty = try await engine.statistics(on: loop).get()
            #expect(empty.historyMessages == 0)
            #expect(empty.historyBytes == 0)
            #expect(empty.channelsReclaimed == 100_001)
        }
    }

    @Test func maxMemoryEvictsTheOldestMessagesAcrossChannels() async throws {
        let charged = HistoryLimits.chargedBytes(payload: 100)
        // Room for three channel records (one-byte names) and four messages.
        let records = 3 * HistoryLimits.chargedBytes(channelName: 1)
        let limits = HistoryLimits(size: 100, maxMemory: charged * 4 + records, maxChannels: 3)
        try await withEngine(threads: 1, limits: limits) { engine, _, group in
            let loop = group.next()
            let payload = ByteBuffer(repeating: UInt8(ascii: "p"), count: 100)
            for channel in ["a", "b", "c"] {
                for _ in 0..<2 { _ = try await engine.publish(payload, to: self.name(channel), on: loop).get() }
            }
            #expect(try await engine.info(self.name("a"), on: loop).get()?.history == 0)
            #expect(try await engine.info(self.name("b"), on: loop).get()?.history == 2)
            #expect(try await engine.info(self.name("c"), on: loop).get()?.history == 2)
            let statistics = try await engine.statistics(on: loop).get()
            #expect(statistics.historyBytes == charged * 4)
            #expect(statistics.messagesEvicted == 2)
        }
    }

    /// `max_channels`: a new channel reclaims an idle one first (before its
    /// idle TTL); when every channel held has subscribers, it fails with a
    /// reason instead of growing.
    @Test func aFullStoreReclaimsIdleChannelsThenRefuses() async throws {
        let limits = HistoryLimits(maxChannels: 2, channelIdleTTL: .seconds(3600))
        try await withEngine(threads: 1, limits: limits) { engine, _, group in
            let loop = group.next()
            let a = try await engine.subscribe(to: self.name("a"), from: .live, hubIndex: 0).get().interest
            _ = try await engine.subscribe(to: self.name("b"), from: .live, hubIndex: 0).get()
            await #expect(throws: EngineError.self) {
                _ = try await engine.publish(ByteBuffer(string: "x"), to: self.name("c"), on: loop).get()
            }
            do {
                _ = try await engine.subscribe(to: self.name("d"), from: .live, hubIndex: 0).get()
                Issue.record("a third channel was created")
            } catch let error as EngineError {
                #expect(
                    error.description
                        == "no room for another channel within max_channels (2) and max_memory: "
                        + "the channels held all have subscribers"
                )
            }
            #expect(try await engine.info(self.name("a"), on: loop).get()?.history == 0)  // nothing was evicted

            engine.unsubscribe(a)
            #expect(try await engine.publish(ByteBuffer(string: "x"), to: self.name("c"), on: loop).get() == 1)
            #expect(try await engine.info(self.name("a"), on: loop).get() == nil)
            let statistics = try await engine.statistics(on: loop).get()
            #expect(statistics.channels == 2)
            #expect(statistics.channelsReclaimed == 1)
        }
    }

    /// Channels that hold only history give way, oldest message first, as `max_memory` always evicts.
    @Test func channelsWithOnlyHistoryGiveWayOldestFirst() async throws {
        let limits = HistoryLimits(maxChannels: 3, channelIdleTTL: .seconds(3600))
        try await withEngine(threads: 1, limits: limits) { engine, _, group in
            let loop = group.next()
            for name in ["a", "b", "c", "d", "e"] {
                #expect(try await engine.publish(ByteBuffer(string: name), to: self.name(name), on: loop).get() == 1)
            }
            for (name, kept) in [("a", false), ("b", false), ("c", true), ("d", true), ("e", true)] {
                #expect(try await (engine.info(self.name(name), on: loop).get() != nil) == kept, "\(name)")
            }
            let statistics = try await engine.statistics(on: loop).get()
            #expect(statistics.channels == 3)
            #expect(statistics.messagesEvicted == 2)
            #expect(statistics.channelsReclaimed == 2)
        }
    }

    /// Channel records are charged to `max_memory`: the channels held are
    /// bounded by bytes even when `max_channels` is not reached.
    @Test func channelRecordsAreChargedToMaxMemory() async throws {
        let record = HistoryLimits.chargedBytes(channelName: 32)
        let limits = HistoryLimits(size: 0, maxMemory: 10 * record, maxChannels: 1000)
        try await withEngine(threads: 1, limits: limits) { engine, _, group in
            let loop = group.next()
            for index in 0..<100 {
                let name = self.name(String(repeating: "n", count: 28) + String(1000 + index))
                _ = try await engine.publish(ByteBuffer(string: "x"), to: name, on: loop).get()
            }
            #expect(try await engine.statistics(on: loop).get().channels == 10)
        }
    }
}
