import Logging
import NIOCore
import RiverCore

/// One event loop's share of the Redis engine: its connections to every
/// shard (`RedisShardLink`: commands, and pub/sub for the channels whose
/// home is this loop), and the channels it follows for its node's
/// subscribers. It turns the pub/sub feed into gapless, ordered
/// `DeliveryBatch`es for the hubs — refetching from the history stream when
/// a message is missing (a dropped connection, a late subscription, a
/// failover) — and notices when a channel's epoch changes (Redis restarted
/// empty, the channel expired or was deleted).
///
/// Facets: `+Publish` (the hot path), `+LiveFeed` (ordering the pub/sub
/// feed, refills), `+Presence` (this node's share of presence, across
/// nodes), `+Admin` (info, delete, listing, statistics, upkeep).
final class RedisChannelStore {
    let index: Int
    let eventLoop: EventLoop
    let links: [RedisShardLink]
    let shardMap: ShardMap
    let fanOut: FanOut
    let settings: RedisEngine.Settings
    let logger: Logger
    var channels: [ChannelName: RemoteChannel] = [:]
    /// Live messages waiting to cross to each hub, flushed once per loop tick.
    let outboxes: HubOutboxes
    var published: PublishedChannels
    var nextToken: UInt64 = 1
    var sweeps: UInt64 = 0
    var epochs = EpochGenerator()
    /// This loop's name as a presence node in Redis (`PresenceScripts`).
    let presenceNode: String
    /// Channels whose presence share waits to be written, and whether a write is scheduled.
    var presenceQueue: [RemoteChannel] = []
    var presenceWriteScheduled = false
    /// The engine's count of members on this node, all loops together.
    let presenceTally: PresenceTally
    /// This node's name on the control channel, the same for all its loops (`+Control`).
    let node: String
    /// The disconnects this loop asked the other nodes for, by request id.
    var controlRequests: [String: ControlRequest] = [:]
    var nextControlRequest: UInt64 = 0
    /// The first loop's latest heartbeat of each node, by node name (`+Heartbeats`).
    var heartbeats: [String: (heartbeat: ByteBuffer, at: NIODeadline)] = [:]

    /// A subscriber's catch-up raced live messages it could not be given: read it again.
    struct StaleCatchUp: Error, CustomStringConvertible {
        var description: String { "the live feed kept moving while the catch-up was read; try again" }
    }

    init(
        index: Int,
        node: String,
        eventLoop: EventLoop,
        targets: [RedisTarget],
        fanOut: FanOut,
        settings: RedisEngine.Settings,
        presenceTally: PresenceTally,
        logger: Logger
    ) {
        self.presenceTally = presenceTally
        self.index = index
        self.node = node
        self.eventLoop = eventLoop
        self.fanOut = fanOut
        self.settings = settings
        self.logger = logger
        self.shardMap = ShardMap(count: targets.count)
        self.outboxes = HubOutboxes(fanOut: fanOut, eventLoop: eventLoop)
        self.published = PublishedChannels(refreshInterval: settings.expiryRefreshInterval)
        self.presenceNode = String(UInt64.random(in: .min ... .max) | (1 << 63), radix: 16)
        self.links = targets.enumerated().map { shard, target in
            RedisShardLink(shard: shard, of: targets.count, target: target, eventLoop: eventLoop, logger: logger)
        }
        for link in self.links {
            let shard = link.shard
            link.subscriptions.onPush = { [unowned self] channel, payload in self.received(payload, on: channel) }
            link.subscriptions.onConnected = { [unowned self] in self.subscriptionsReconnected(shard: shard) }
            link.subscriptions.onDisconnected = { [unowned self] in self.subscriptionsLost(shard: shard) }
            link.commands.onConnected = { [unowned self] in
                self.refillWhereNeeded(shard: shard)
                if shard == 0 { self.readRevokedTokens() }
            }
        }
    }

    /// Connects to every shard, then beats the first presence heartbeat (the sweep beats the next ones).
    func start() -> EventLoopFuture<Void> {
        EventLoopFuture.andAllComplete(self.links.map { $0.start() }, on: self.eventLoop).assumeIsolated().map {
            self.presenceHeartbeat()
        }.nonisolated()
    }

    /// Takes this node's presence out of Redis (its members leave at once), then closes the connections.
    func stop() -> EventLoopFuture<Void> {
        self.leavePresence().assumeIsolated().flatMap {
            EventLoopFuture.andAllComplete(self.links.map { $0.stop() }, on: self.eventLoop)
        }.nonisolated()
    }

    func link(for name: ChannelName) -> RedisShardLink {
        self.links[self.shardMap.shard(of: name)]
    }

    /// A new random epoch, for a channel that may have to start.
    func newEpoch() -> Int64 { self.epochs.next() }

    // MARK: - Subscribe

    func subscribe(
        to name: ChannelName,
        from point: ResumePoint,
        hubIndex: Int,
        member: PresenceMember?
    ) -> EventLoopFuture<SubscribeResult> {
        let channel = self.channel(named: name)
        channel.subscribersPerHub[hubIndex] += 1
        channel.subscriberTotal += 1
        channel.idleSince = nil
        let subscription = Interest(channel: name, hubIndex: hubIndex, token: channel.token, member: member)
        if channel.presence.subscribed(member) { self.presenceTally.add(1) }
        self.presenceChanged(member, in: channel)
        return self.catchUp(channel, from: point, attempts: 3)
            .map { SubscribeResult(interest: subscription, catchUp: $0) }
            .flatMapErrorThrowing { error in
                self.unsubscribe(subscription)
                throw self.link(for: name).unavailable(error)
            }
            .nonisolated()
    }

    /// Subscribes to the channel in Redis if need be, then reads the catch-up
    /// and lines it up with the live feed this node forwards.
    private func catchUp(
        _ channel: RemoteChannel,
        from point: ResumePoint,
        attempts: Int
    ) -> EventLoopFuture<CatchUp>.Isolated {
        // A live start on a channel whose feed this node follows, with nothing missing from
        // it, needs nothing from Redis: it starts where the feed stands (a message still on
        // its way comes after that). What presence churn cost most: a script and two reads a join.
        if point.seq == nil, case .active = channel.subscription, let epoch = channel.epoch, !channel.needsRefill,
            !channel.isFillingGap, channel.parked.isEmpty
        {
            let catchUp = MessageHistory().catchUp(from: point, currentSeq: channel.lastForwarded, epoch: epoch)
            return self.eventLoop.makeSucceededFuture(catchUp).assumeIsolated()
        }
        return self.ensureSubscribed(channel).flatMap {
            self.readCatchUp(channel.name, after: point.seq, epoch: point.epoch).nonisolated()
        }.flatMap { snapshot in
            do {
                return self.eventLoop.makeSucceededFuture(try self.lineUp(snapshot, for: point, in: channel))
            } catch {
                guard attempts > 1 else { return self.eventLoop.makeFailedFuture(error) }
                return self.catchUp(channel, from: point, attempts: attempts - 1).nonisolated()
            }
        }
    }

    /// Redis's answer to "what comes after `seq`?".
    struct Snapshot {
        var seq: UInt64
        var epoch: UInt64
        var isReset: Bool
        var messages: [Message]
    }

    func readCatchUp(_ name: ChannelName, after seq: UInt64?, epoch: UInt64?) -> EventLoopFuture<Snapshot>.Isolated {
        let cutoff = UInt64(clamping: WallClock.nowMillis() - self.settings.historyTTLMillis)
        return RedisScripts.catchUp.run(
            on: self.link(for: name).commands,
            keys: [RedisKeys.meta(name), RedisKeys.history(name)],
            arguments: [
                .text(seq.map { String($0) } ?? ""), .text(epoch.map { String($0) } ?? ""),
                .integer(Int64(self.settings.historySize)), .integer(self.settings.metaLifetimeMillis),
                .integer(self.newEpoch()),
            ]
        ).assumeIsolated().flatMapThrowing { reply in
            guard let parts = reply.array, parts.count == 4, let seq = parts[0].integer, seq >= 0,
                let epochBytes = parts[1].bytes?.readableBytesView, let epoch = UInt64(decimal: epochBytes),
                let reset = parts[2].integer, let entries = parts[3].array
            else { throw RedisReplyError(message: "unexpected catch-up reply") }
            let now = NIODeadline.now()
            var messages: [Message] = []
            messages.reserveCapacity(entries.count)
            for value in entries {
                guard let entry = HistoryEntry(value) else {
                    throw RedisReplyError(message: "unexpected history entry")
                }
                // Expired entries go at read time (the stream is capped by count, and expires when idle).
                guard entry.publishedMillis > cutoff else { continue }
                messages.append(
                    Message(
                        channel: name,
                        seq: entry.seq,
                        payload: entry.payload,
                        isBinary: entry.kind.isBinary,
                        publishedAt: now
                    )
                )
            }
            return Snapshot(seq: UInt64(seq), epoch: epoch, isReset: reset == 1, messages: messages)
        }
    }

    /// The catch-up for `point` from `snapshot`, extended with the live
    /// messages this node forwarded after the snapshot was read, so the
    /// subscriber (registered when this completes) misses none of them.
    private func lineUp(_ snapshot: Snapshot, for point: ResumePoint, in channel: RemoteChannel) throws -> CatchUp {
        switch channel.epoch {
        case nil:
            channel.follow(epoch: snapshot.epoch, after: snapshot.seq)
            self.forwardParked(channel)
        case snapshot.epoch?:
            break
        case let followed?:
            // Redis has another incarnation than the one followed: that feed is over.
            self.logger.info(
                "channel reset in Redis",
                metadata: ["channel": "\(channel.name)", "epoch": "\(followed) -> \(snapshot.epoch)"]
            )
            self.endSubscribers(of: channel, reason: .channelReset)
            channel.follow(epoch: snapshot.epoch, after: snapshot.seq)
        }
        guard channel.epoch == snapshot.epoch else { throw StaleCatchUp() }
        var history = MessageHistory()
        for message in snapshot.messages {
            // Retained messages are consecutive; after a hole, only those past it are (the rest are reported lost).
            if let last = history.last, message.seq != last.seq + 1 { history.removeAll() }
            history.append(message)
        }
        var catchUp = history.catchUp(from: point, currentSeq: snapshot.seq, epoch: snapshot.epoch)
        if channel.lastForwarded > catchUp.lastSeq {
            guard let later = channel.forwarded(after: catchUp.lastSeq) else { throw StaleCatchUp() }
            catchUp.messages += later
            catchUp.lastSeq = channel.lastForwarded
        }
        return catchUp
    }

    func ensureSubscribed(_ channel: RemoteChannel) -> EventLoopFuture<Void>.Isolated {
        switch channel.subscription {
        case .active:
            return self.eventLoop.makeSucceededVoidFuture().assumeIsolated()
        case .pending(let future):
            return future.assumeIsolated()
        case .none:
            let subscriptions = self.links[channel.shard].subscriptions
            let future = subscriptions.send(RESPCommand("SUBSCRIBE", [RedisKeys.pubSub(channel.name)]))
                .assumeIsolated()
                .flatMapThrowing { reply in
                    guard reply.array?.first?.string == "subscribe" else {
                        throw RedisReplyError(message: "SUBSCRIBE answered \(reply)")
                    }
                }
            channel.subscription = .pending(future.nonisolated())
            future.whenComplete { result in
                guard case .pending = channel.subscription else { return }
                if case .success = result { channel.subscription = .active } else { channel.subscription = .none }
            }
            return future
        }
    }

    func unsubscribe(_ subscription: Interest) {
        guard let channel = self.channels[subscription.channel], channel.token == subscription.token else { return }
        channel.subscribersPerHub[subscription.hubIndex] -= 1
        channel.subscriberTotal -= 1
        if channel.subscriberTotal == 0 { channel.idleSince = .now() }
        self.presenceUnsubscribed(subscription.member, from: channel)
    }

    private func channel(named name: ChannelName) -> RemoteChannel {
        if let channel = self.channels[name] { return channel }
        let channel = RemoteChannel(
            name: name,
            shard: self.shardMap.shard(of: name),
            token: self.nextToken,
            hubCount: self.fanOut.count
        )
        self.nextToken += 1
        self.channels[name] = channel
        return channel
    }
}

@available(*, unavailable)
extension RedisChannelStore: Sendable {}
