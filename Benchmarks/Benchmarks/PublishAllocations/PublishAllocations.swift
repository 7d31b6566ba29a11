import Benchmark
import NIOCore
import NIOPosix
import RiverCore
import RiverMemoryEngine

/// Allocations per published message through the memory engine and one
/// event loop's hub, at 1 and at 1,000 local subscribers: publish, store,
/// encode once, deliver the shared bytes to every subscriber. The count must
/// not grow with the subscribers (DESIGN.md: encode once, no per-subscriber
/// copy). Each iteration publishes 1,000 messages and waits until every
/// subscriber has them; divide the counts by 1,000 for one message.
let benchmarks: @Sendable () -> Void = {
    for subscribers in [1, 1000] {
        Benchmark(
            "1000 publishes, \(subscribers) subscriber\(subscribers == 1 ? "" : "s")",
            configuration: .init(
                metrics: [.mallocCountTotal, .wallClock],
                maxDuration: .seconds(5),
                maxIterations: 200,
                setup: { try await Setup.shared.prepare(subscribers: subscribers) }
            )
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                try Setup.shared.publishAndWait(count: 1000)
            }
        }
    }
}

/// One event loop, its hub and the memory engine, with subscribers on one channel.
final class Setup: @unchecked Sendable {
    static let shared = Setup()

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let fanOut: FanOut
    let engine: MemoryEngine
    let channel = try! ChannelName(validating: "bench", maxBytes: 64)
    let payload = ByteBuffer(string: String(repeating: "x", count: 64))
    var loop: EventLoop { self.group.next() }
    /// Loop-confined: the subscribers and what they wait for.
    private let progress: NIOLoopBoundBox<Progress>

    private init() {
        self.fanOut = FanOut(group: self.group)
        self.engine = MemoryEngine(fanOut: self.fanOut, limits: HistoryLimits())
        self.progress = NIOLoopBoundBox.makeBoxSendingValue(Progress(), eventLoop: self.group.next())
    }

    /// Replaces the subscribers with `count` new ones, caught up with the channel.
    func prepare(subscribers count: Int) async throws {
        let loop = self.loop
        let progress = self.progress
        let hub = self.fanOut.hubs[0]
        let engine = self.engine
        let channel = self.channel
        try await loop.flatSubmit {
            for subscriber in progress.value.subscribers { hub.value.remove(subscriber, from: channel) }
            progress.value.subscribers = []
            let subscribed = (0..<count).map { _ in
                engine.subscribe(to: channel, from: ResumePoint(), hubIndex: 0).map { subscribed in
                    let subscriber = CountingSubscriber(progress: progress.value, cursor: subscribed.catchUp.lastSeq)
                    progress.value.subscribers.append(subscriber)
                    hub.value.add(subscriber, to: channel)
                }
            }
            return EventLoopFuture.andAllSucceed(subscribed, on: loop)
        }.get()
    }

    /// Publishes `count` messages on the loop and waits until every subscriber has them.
    func publishAndWait(count: Int) throws {
        let loop = self.loop
        let done = loop.makePromise(of: Void.self)
        let progress = self.progress
        let engine = self.engine
        let channel = self.channel
        let payload = self.payload
        loop.execute {
            progress.value.expect(count, then: done)
            for _ in 0..<count {
                engine.publish(payload, isBinary: false, to: channel, on: loop) { _ in }
            }
        }
        try done.futureResult.wait()
    }
}

/// What the subscribers are waiting for (loop-confined).
final class Progress {
    var subscribers: [CountingSubscriber] = []
    private(set) var target: UInt64 = 0
    private var waiting = 0
    private var done: EventLoopPromise<Void>?

    func expect(_ count: Int, then done: EventLoopPromise<Void>) {
        self.target = (self.subscribers.first?.deliveredSeq ?? 0) + UInt64(count)
        self.waiting = self.subscribers.count
        self.done = done
    }

    func reached() {
        self.waiting -= 1
        if self.waiting == 0 { self.done?.succeed() }
    }
}

/// A subscriber that takes each message's shared chunk bytes, as a stream does.
final class CountingSubscriber: Subscriber {
    var hubSlot = -1
    private(set) var deliveredSeq: UInt64
    private let progress: Progress
    private var bytes = 0

    init(progress: Progress, cursor: UInt64) {
        self.progress = progress
        self.deliveredSeq = cursor
    }

    func deliver(_ messages: ArraySlice<EncodedMessage>) -> DeliveryCount {
        var count = DeliveryCount()
        for message in messages where message.seq > self.deliveredSeq {
            let chunk = message.bytes(.chunk)
            self.bytes &+= chunk.readableBytes
            self.deliveredSeq = message.seq
            count.messages += 1
            count.bytes += chunk.readableBytes
            if message.seq == self.progress.target { self.progress.reached() }
        }
        return count
    }

    func finish(_ reason: FinishReason) {}
}
