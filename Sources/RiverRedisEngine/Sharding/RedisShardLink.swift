import Logging
import NIOCore
import RiverCore

/// One event loop's two connections to one shard: commands (publishes,
/// catch-ups, admin), and pub/sub for the shard's channels whose home is
/// this loop. Confined to the loop.
///
/// It is also where a fault of the shard becomes what the engine reports
/// (`unavailable(_:)`): every failure the Redis engine passes on goes
/// through it, so every 503 names the shard.
final class RedisShardLink {
    let shard: Int
    /// How many shards there are (for "shard 2 of 3").
    let shardCount: Int
    let commands: RedisClient
    let subscriptions: RedisClient
    /// Publishes acknowledged since the shard's `published` counter was last
    /// increased (it is increased in batches, not by the publish script).
    var unreportedPublishes: Int64 = 0

    init(shard: Int, of shardCount: Int, target: RedisTarget, eventLoop: EventLoop, logger: Logger) {
        self.shard = shard
        self.shardCount = shardCount
        self.commands = RedisClient(
            target: target,
            isSubscriptionConnection: false,
            loadsScripts: true,
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

    /// "Redis shard 2 of 3 (redis://10.0.0.2:6379)": how errors name the shard.
    var name: String { "Redis shard \(self.shard + 1) of \(self.shardCount) (\(self.commands.target))" }

    /// The one place a fault of this shard — no connection, no answer in
    /// time, an error reply, a reply River cannot read — becomes an
    /// `EngineError`: unavailable, with a one-line reason naming the shard
    /// (the server answers it 503). An `EngineError` passes unchanged.
    func unavailable(_ error: Error) -> EngineError {
        if let error = error as? EngineError { return error }
        return .unavailable("\(self.name): \(Self.oneLine(error))")
    }

    /// `future` (on this link's loop), failing with `unavailable(_:)` rather than the Redis client's own error.
    func reportingFaults<Value>(_ future: EventLoopFuture<Value>) -> EventLoopFuture<Value> {
        future.assumeIsolated().flatMapErrorThrowing { throw self.unavailable($0) }.nonisolated()
    }

    /// What `/stats` lists for this shard when it did not answer (and what Sentinel says of it, if it is behind one).
    func unavailableShard(_ error: Error) -> UnavailableShard {
        var reason = Self.oneLine(error)
        switch self.commands.target.sentinelVerdict {
        case .failingOver: reason += "; Sentinel is failing it over"
        case .downWithoutReplica: reason += "; Sentinel finds it down with no replica to promote"
        case .serving, nil: break
        }
        return UnavailableShard(number: self.shard + 1, location: "\(self.commands.target)", reason: reason)
    }

    /// An error's description on one line (a Redis error reply may hold line breaks).
    private static func oneLine(_ error: Error) -> String {
        String("\(error)".map { $0.isNewline ? " " : $0 })
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
