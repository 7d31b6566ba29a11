import Logging
import NIOCore
import RiverCore

/// The engine that makes several River nodes one service: Redis assigns each
/// channel's `seq` and keeps its history (a capped stream), and Redis pub/sub
/// carries live messages to every node that has subscribers for the channel
/// (one Redis subscription per channel per node), which fans them out
/// through the same `LoopHub`s as the memory engine.
///
/// Channels are spread over one or more shards (`ShardMap`), each a Redis at
/// a fixed address or a master followed through Sentinel (`SentinelWatcher`).
/// Each event loop has its own `RedisChannelStore` with two connections per
/// shard: a publish goes out on the connection of the loop that received it,
/// and a channel's live feed arrives on its home loop. When a shard is
/// unreachable, publishes and new subscriptions to its channels fail (503)
/// and open streams stay; when it returns, every node subscribes again and
/// reads what it missed.
public final class RedisEngine: Engine {
    public var name: String { "redis " + self.settings.shards.map(\.description).joined(separator: " ") }

    private let settings: Settings
    private let stores: [NIOLoopBoundBox<RedisChannelStore>]
    private let sweepers: [RepeatedTask]
    private let watchers: [SentinelWatcher]
    private let presenceTally: PresenceTally

    private init(
        settings: Settings,
        stores: [NIOLoopBoundBox<RedisChannelStore>],
        sweepers: [RepeatedTask],
        watchers: [SentinelWatcher],
        presenceTally: PresenceTally
    ) {
        self.presenceTally = presenceTally
        self.settings = settings
        self.stores = stores
        self.sweepers = sweepers
        self.watchers = watchers
    }

    /// Creates the stores and makes a first connection attempt (a Redis that
    /// is down is retried in the background; until then publishes get 503).
    public static func start(fanOut: FanOut, settings: Settings, logger: Logger) async -> RedisEngine {
        var targets: [RedisTarget] = []
        var watchers: [SentinelWatcher] = []
        for shard in settings.shards {
            switch shard {
            case .address(let address):
                targets.append(.address(address))
            case .sentinel(let master, let sentinels):
                let watcher = SentinelWatcher(
                    masterName: master,
                    sentinels: sentinels,
                    eventLoop: fanOut.hubs[0].eventLoop,
                    logger: logger
                )
                _ = try? await watcher.start().get()
                watchers.append(watcher)
                targets.append(.master(watcher))
            }
        }
        let shardTargets = targets
        let node = String(UInt64.random(in: .min ... .max), radix: 16)
        var stores: [NIOLoopBoundBox<RedisChannelStore>] = []
        var sweepers: [RepeatedTask] = []
        let presenceTally = PresenceTally()
        for (index, hub) in fanOut.hubs.enumerated() {
            let loop = hub.eventLoop
            let store = try! await loop.submit {
                NIOLoopBoundBox(
                    RedisChannelStore(
                        index: index,
                        node: node,
                        eventLoop: loop,
                        targets: shardTargets,
                        fanOut: fanOut,
                        settings: settings,
                        presenceTally: presenceTally,
                        logger: logger
                    ),
                    eventLoop: loop
                )
            }.get()
            for (shard, target) in shardTargets.enumerated() {
                guard case .master(let watcher) = target else { continue }
                watcher.onSwitch { address in
                    loop.execute { store.value.links[shard].follow(address) }
                }
            }
            _ = try? await loop.flatSubmit { store.value.start() }.get()
            stores.append(store)
            sweepers.append(
                loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in store.value.sweep() }
            )
        }
        return RedisEngine(
            settings: settings,
            stores: stores,
            sweepers: sweepers,
            watchers: watchers,
            presenceTally: presenceTally
        )
    }

    public func publish(
        _ payload: ByteBuffer,
        isBinary: Bool,
        to channel: ChannelName,
        on loop: EventLoop,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    ) {
        // On the caller's own loop and Redis connection: no hop.
        let store = self.store(on: loop)
        if store.eventLoop === loop && loop.inEventLoop {
            store.value.publish(payload, isBinary: isBinary, to: channel, completion: completion)
            return
        }
        store.eventLoop.execute {
            store.value.publish(payload, isBinary: isBinary, to: channel) { result in
                loop.execute { completion(result) }
            }
        }
    }

    public func subscribe(
        to channel: ChannelName,
        from point: ResumePoint,
        hubIndex: Int,
        member: PresenceMember?
    ) -> EventLoopFuture<SubscribeResult> {
        let replyLoop = self.stores[hubIndex].eventLoop
        let home = self.home(of: channel)
        return home.eventLoop.submit(replyingOn: replyLoop) {
            home.value.subscribe(to: channel, from: point, hubIndex: hubIndex, member: member)
        }
    }

    public func presence(of channel: ChannelName, limit: Int, on loop: EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        let home = self.home(of: channel)
        return home.eventLoop.submit(replyingOn: loop) {
            home.value.presence(of: channel, limit: limit)
        }
    }

    public func unsubscribe(_ subscription: Interest) {
        let home = self.home(of: subscription.channel)
        if home.eventLoop.inEventLoop {
            home.value.unsubscribe(subscription)
        } else {
            home.eventLoop.execute { home.value.unsubscribe(subscription) }
        }
    }

    public func info(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<ChannelInfo?> {
        let home = self.home(of: channel)
        return home.eventLoop.submit(replyingOn: loop) { home.value.info(channel) }
    }

    public func list(prefix: String, after: String?, limit: Int, on loop: EventLoop) -> EventLoopFuture<[ChannelName]> {
        let store = self.store(on: loop)
        return store.eventLoop.submit(replyingOn: loop) {
            store.value.list(prefix: prefix, after: after, limit: limit)
        }
    }

    public func delete(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<Bool> {
        let store = self.store(on: loop)
        return store.eventLoop.submit(replyingOn: loop) { store.value.delete(channel) }
    }

    public var presenceMembers: Int { self.presenceTally.members }

    /// Every loop first reports its publishes, so the figure includes them.
    public func statistics(on loop: EventLoop) -> EventLoopFuture<EngineStatistics> {
        let reported = self.stores.map { store in
            // (A shard that cannot be reached reports nothing; its reconnects are counted all the same.)
            store.eventLoop.flatSubmit {
                store.value.reportPublishes().always { _ in }.map { store.value.reconnects() }
                    .recover { _ in store.value.reconnects() }
            }
        }
        let store = self.store(on: loop)
        return EventLoopFuture.whenAllSucceed(reported, on: loop).flatMap { reconnects in
            store.eventLoop.submit(replyingOn: loop) { store.value.statistics() }.map { statistics in
                var statistics = statistics
                for index in statistics.shards.indices {
                    let shard = statistics.shards[index].number - 1
                    statistics.shards[index].reconnects = reconnects.reduce(0) {
                        $0 + ($1.indices.contains(shard) ? $1[shard] : 0)
                    }
                }
                return statistics
            }
        }
    }

    public func shutdown() async {
        for sweeper in self.sweepers {
            sweeper.cancel()
        }
        for store in self.stores {
            try? await store.eventLoop.flatSubmit { store.value.stop() }.get()
        }
        for watcher in self.watchers {
            try? await watcher.stop().get()
        }
    }

    private func home(of channel: ChannelName) -> NIOLoopBoundBox<RedisChannelStore> {
        self.stores[channel.homeIndex(among: self.stores.count)]
    }

    public func exchangeHeartbeat(_ heartbeat: ByteBuffer, on loop: EventLoop) -> EventLoopFuture<[ByteBuffer]> {
        let store = self.stores[0]
        return store.eventLoop.submit { store.value.exchangeHeartbeat(heartbeat) }.hop(to: loop)
    }

    public func tellOtherNodes(_ order: NodeOrder, on loop: EventLoop) -> EventLoopFuture<Int> {
        let store = self.store(on: loop)
        return store.eventLoop.flatSubmit { store.value.tellOtherNodes(order) }.hop(to: loop)
    }

    /// The store of `loop`, or the first one for a loop that is not the server's.
    private func store(on loop: EventLoop) -> NIOLoopBoundBox<RedisChannelStore> {
        self.stores.first { $0.eventLoop === loop } ?? self.stores[0]
    }
}
