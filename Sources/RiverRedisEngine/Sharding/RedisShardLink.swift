import Logging
import NIOCore

/// One event loop's two connections to one shard: commands (publishes,
/// catch-ups, admin), and pub/sub for the shard's channels whose home is
/// this loop. Confined to the loop.
final class RedisShardLink {
    let shard: Int
    let commands: RedisClient
    let subscriptions: RedisClient
    /// Publishes acknowledged since the shard's `published` counter was last
    /// increased (it is increased in batches, not by the publish script).
    var unreportedPublishes: Int64 = 0

    init(shard: Int, target: RedisTarget, eventLoop: EventLoop, logger: Logger) {
        self.shard = shard
        self.commands = RedisClient(
            target: target,
            isSubscriptionConnection: false,
            eventLoop: eventLoop,
            logger: logger
        )
        self.subscriptions = RedisClient(
            target: target,
            isSubscriptionConnection: true,
            eventLoop: eventLoop,
            logger: logger
        )
    }

    func start() -> EventLoopFuture<Void> {
        self.commands.start().and(self.subscriptions.start()).map { _ in }
    }

    func stop() -> EventLoopFuture<Void> {
        self.commands.stop().and(self.subscriptions.stop()).map { _ in }
    }

    /// The master moved: both connections go to `address`.
    func follow(_ address: RedisAddress) {
        self.commands.reconnect(unlessConnectedTo: address)
        self.subscriptions.reconnect(unlessConnectedTo: address)
    }

    /// Adds the publishes not yet counted to the shard's `published` counter.
    func reportPublishes() -> EventLoopFuture<Void> {
        let count = self.unreportedPublishes
        guard count > 0 else { return self.commands.eventLoop.makeSucceededVoidFuture() }
        self.unreportedPublishes = 0
        let reported = self.commands.eventLoop.makePromise(of: Void.self)
        let command = RESPCommand("HINCRBY", [.text(RedisKeys.statistics), .text("published"), .integer(count)])
        self.commands.send(command) { result in
            if case .success(.integer) = result {} else { self.unreportedPublishes += count }  // (next time)
            reported.succeed()
        }
        return reported.futureResult
    }
}

@available(*, unavailable)
extension RedisShardLink: Sendable {}
