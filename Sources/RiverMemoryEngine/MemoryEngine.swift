import NIOCore
import RiverCore

/// The embedded engine: channels live in this process, nothing to install.
///
/// Each channel has a home event loop (its name's stable hash picks it) whose
/// `ChannelStore` owns the channel's seq counter and history, so no lock is
/// ever taken: a publish or subscribe from another loop costs one hop there
/// and one back, and live messages cross to each interested loop once per tick.
public final class MemoryEngine: Engine {
    public let name = "memory"
    private let stores: [NIOLoopBoundBox<ChannelStore>]
    private let reapers: [RepeatedTask]
    private let presenceTally: PresenceTally

    /// - Parameters:
    ///   - fanOut: the hubs of the server's event loops; stores live on the same loops.
    ///   - reapInterval: how often expired history and idle channels are collected.
    ///   - clock: the time history expiry is measured against.
    public init(
        fanOut: FanOut,
        limits: HistoryLimits,
        reapInterval: TimeAmount = .seconds(1),
        clock: MonotonicClock = .system,
        presenceLeaveDelay: TimeAmount = .seconds(5)
    ) {
        var stores: [NIOLoopBoundBox<ChannelStore>] = []
        let tally = PresenceTally()
        var reapers: [RepeatedTask] = []
        for (index, hub) in fanOut.hubs.enumerated() {
            let loop = hub.eventLoop
            let store = NIOLoopBoundBox.makeBoxSendingValue(
                ChannelStore(
                    index: index,
                    eventLoop: loop,
                    limits: limits,
                    fanOut: fanOut,
                    storeCount: fanOut.count,
                    clock: clock,
                    leaveDelay: presenceLeaveDelay,
                    presenceTally: tally
                ),
                eventLoop: loop
            )
            stores.append(store)
            reapers.append(
                loop.scheduleRepeatedTask(initialDelay: reapInterval, delay: reapInterval) { _ in
                    store.value.reap()
                }
            )
        }
        self.stores = stores
        self.reapers = reapers
        self.presenceTally = tally
    }

    public func publish(
        _ payload: ByteBuffer,
        isBinary: Bool,
        to channel: ChannelName,
        on loop: EventLoop,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    ) {
        let store = self.home(of: channel)
        if store.eventLoop === loop && loop.inEventLoop {
            completion(store.value.publish(payload, isBinary: isBinary, to: channel))
            return
        }
        store.eventLoop.execute {
            let result = store.value.publish(payload, isBinary: isBinary, to: channel)
            loop.execute { completion(result) }
        }
    }

    public func subscribe(
        to channel: ChannelName,
        from point: ResumePoint,
        hubIndex: Int,
        member: PresenceMember?
    ) -> EventLoopFuture<SubscribeResult> {
        let replyLoop = self.stores[hubIndex].eventLoop
        return self.onHome(of: channel, replyOn: replyLoop) {
            $0.subscribe(to: channel, from: point, hubIndex: hubIndex, member: member)
        }.flatMapResult { $0 }
    }

    public var presenceMembers: Int { self.presenceTally.members }

    public func presence(of channel: ChannelName, limit: Int, on loop: EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        self.onHome(of: channel, replyOn: loop) { $0.presence(of: channel, limit: limit) }
    }

    public func unsubscribe(_ subscription: Interest) {
        let store = self.home(of: subscription.channel)
        if store.eventLoop.inEventLoop {
            store.value.unsubscribe(subscription)
        } else {
            store.eventLoop.execute { store.value.unsubscribe(subscription) }
        }
    }

    public func info(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<ChannelInfo?> {
        self.onHome(of: channel, replyOn: loop) { $0.info(channel) }
    }

    public func list(prefix: String, after: String?, limit: Int, on loop: EventLoop) -> EventLoopFuture<[ChannelName]> {
        let pages = self.stores.map { store in
            store.eventLoop.submit { store.value.list(prefix: prefix, after: after, limit: limit) }
        }
        return EventLoopFuture.reduce([ChannelName](), pages, on: loop) { merged, page in
            Array((merged + page).sorted().prefix(limit))
        }
    }

    public func delete(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<Bool> {
        self.onHome(of: channel, replyOn: loop) { $0.delete(channel) }
    }

    public func statistics(on loop: EventLoop) -> EventLoopFuture<EngineStatistics> {
        let parts = self.stores.map { store in
            store.eventLoop.submit { store.value.statistics }
        }
        return EventLoopFuture.reduce(EngineStatistics(), parts, on: loop, +)
    }

    /// Collects expired history and idle channels on every store now (what the
    /// reapers do every `reapInterval`); completes once all stores have.
    func reap(on loop: EventLoop) -> EventLoopFuture<Void> {
        let reaps = self.stores.map { store in store.eventLoop.submit { store.value.reap() } }
        return EventLoopFuture.andAllSucceed(reaps, on: loop)
    }

    public func shutdown() async {
        for reaper in self.reapers {
            reaper.cancel()
        }
    }

    private func home(of channel: ChannelName) -> NIOLoopBoundBox<ChannelStore> {
        self.stores[channel.homeIndex(among: self.stores.count)]
    }

    /// Runs `body` on the channel's home loop; completes on `replyLoop`.
    /// Inline (no hop, no task) when the caller already is on the home loop.
    private func onHome<Result: Sendable>(
        of channel: ChannelName,
        replyOn replyLoop: EventLoop,
        _ body: @escaping @Sendable (ChannelStore) -> Result
    ) -> EventLoopFuture<Result> {
        let store = self.home(of: channel)
        if store.eventLoop === replyLoop && replyLoop.inEventLoop {
            return replyLoop.makeSucceededFuture(body(store.value))
        }
        return store.eventLoop.submit(replyingOn: replyLoop) { store.eventLoop.makeSucceededFuture(body(store.value)) }
    }
}
