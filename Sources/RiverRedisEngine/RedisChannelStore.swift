import Logging
import NIOCore
import RiverCore

/// One event loop's share of the Redis engine: its two Redis connections
/// (commands, and pub/sub for the channels whose home is this loop), and
/// the channels it follows for its node's subscribers. It turns the pub/sub
/// feed into gapless, ordered `DeliveryBatch`es for the hubs — refetching
/// from the history stream when a message is missing (a dropped connection,
/// a late subscription) — and notices when a channel's epoch changes (Redis
/// restarted empty, the channel expired or was deleted).
final class RedisChannelStore {
    let index: Int
    let eventLoop: EventLoop
    let commands: RedisClient
    private let subscriptions: RedisClient
    private let fanOut: FanOut
    private let settings: RedisEngine.Settings
    private let logger: Logger
    private var channels: [ChannelName: RemoteChannel] = [:]
    /// Live messages waiting to cross to each hub, flushed once per loop tick.
    private let outboxes: HubOutboxes
    private var nextToken: UInt64 = 1
    private var sweeps: UInt64 = 0

    /// A subscriber's catch-up raced live messages it could not be given: read it again.
    private struct StaleCatchUp: Error {}

    init(index: Int, eventLoop: EventLoop, fanOut: FanOut, settings: RedisEngine.Settings, logger: Logger) {
        self.index = index
        self.eventLoop = eventLoop
        self.fanOut = fanOut
        self.settings = settings
        self.logger = logger
        self.outboxes = HubOutboxes(fanOut: fanOut, eventLoop: eventLoop)
        self.commands = RedisClient(
            address: settings.address,
            isSubscriptionConnection: false,
            eventLoop: eventLoop,
            logger: logger
        )
        self.subscriptions = RedisClient(
            address: settings.address,
            isSubscriptionConnection: true,
            eventLoop: eventLoop,
            logger: logger
        )
        self.subscriptions.onPush = { [unowned self] channel, payload in self.received(payload, on: channel) }
        self.subscriptions.onConnected = { [unowned self] in self.subscriptionsReconnected() }
        self.subscriptions.onDisconnected = { [unowned self] in self.subscriptionsLost() }
        self.commands.onConnected = { [unowned self] in self.refillWhereNeeded() }
    }

    func start() -> EventLoopFuture<Void> {
        self.commands.start().and(self.subscriptions.start()).map { _ in }
    }

    func stop() -> EventLoopFuture<Void> {
        self.commands.stop().and(self.subscriptions.stop()).map { _ in }
    }

    // MARK: - Publish

    func publish(
        _ payload: ByteBuffer,
        to name: ChannelName,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    ) {
        let keys = RedisKeys(name)
        RedisScripts.publish.run(
            on: self.commands,
            keys: [.text(keys.meta), .text(keys.history), .text(RedisKeys.channelIndex), .text(RedisKeys.statistics)],
            arguments: [
                .bytes(payload), .text(keys.pubSub), .integer(Int64(self.settings.historySize)),
                .integer(self.settings.historyTTLMillis), .integer(self.settings.idleTTLMillis), .text(name.value),
                .integer(Self.newEpoch()),
            ]
        ).whenComplete { result in
            switch result {
            case .success(let reply):
                guard let seq = reply.array?.first?.integer, seq > 0 else {
                    completion(.failure(.unavailable("unexpected reply from Redis to a publish")))
                    return
                }
                completion(.success(UInt64(seq)))
            case .failure(let error):
                completion(.failure(.unavailable("\(error)")))  // (every error here names Redis)
            }
        }
    }

    /// A random epoch below 2^53, so JavaScript clients read it exactly.
    static func newEpoch() -> Int64 { Int64.random(in: 1..<(1 << 53)) }

    // MARK: - Subscribe

    func subscribe(to name: ChannelName, from point: ResumePoint, hubIndex: Int) -> EventLoopFuture<Subscribed> {
        let channel = self.channel(named: name)
        channel.subscribersPerHub[hubIndex] += 1
        channel.subscriberTotal += 1
        channel.idleSince = nil
        let subscription = Subscription(channel: name, hubIndex: hubIndex, token: channel.token)
        return self.catchUp(channel, from: point, attempts: 3)
            .map { Subscribed(subscription: subscription, catchUp: $0) }
            .flatMapErrorThrowing { error in
                self.unsubscribe(subscription)
                throw EngineError.unavailable("\(error)")
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
        self.ensureSubscribed(channel).flatMap {
            self.readCatchUp(channel.keys, after: point.seq, epoch: point.epoch).nonisolated()
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
    private struct Snapshot {
        var seq: UInt64
        var epoch: UInt64
        var isReset: Bool
        var messages: [Message]
    }

    private func readCatchUp(
        _ keys: RedisKeys,
        after seq: UInt64?,
        epoch: UInt64?
    ) -> EventLoopFuture<Snapshot>.Isolated {
        RedisScripts.catchUp.run(
            on: self.commands,
            keys: [.text(keys.meta), .text(keys.history)],
            arguments: [
                .text(seq.map { String($0) } ?? ""), .text(epoch.map { String($0) } ?? ""),
                .integer(self.settings.historyTTLMillis), .integer(self.settings.idleTTLMillis),
                .integer(Self.newEpoch()),
            ]
        ).assumeIsolated().flatMapThrowing { reply in
            guard let parts = reply.array, parts.count == 4, let seq = parts[0].integer,
                let epochText = parts[1].string, let epoch = UInt64(epochText), let reset = parts[2].integer,
                let entries = parts[3].array
            else { throw RedisReplyError(message: "unexpected catch-up reply") }
            let name = RedisKeys.channel(fromPubSub: keys.pubSub)!
            let now = NIODeadline.now()
            let messages = try entries.map { entry in
                guard let fields = entry.array, fields.count == 2, let id = fields[0].string,
                    let entrySeq = UInt64(id.prefix { $0 != "-" }), let values = fields[1].array, values.count == 4,
                    let payload = values[3].bytes
                else { throw RedisReplyError(message: "unexpected history entry") }
                return Message(channel: name, seq: entrySeq, payload: payload, publishedAt: now)
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
        for message in snapshot.messages { history.append(message) }
        var catchUp = history.catchUp(from: point, currentSeq: snapshot.seq, epoch: snapshot.epoch)
        if channel.lastForwarded > catchUp.lastSeq {
            guard let later = channel.forwarded(after: catchUp.lastSeq) else { throw StaleCatchUp() }
            catchUp.messages += later
            catchUp.lastSeq = channel.lastForwarded
        }
        return catchUp
    }

    private func ensureSubscribed(_ channel: RemoteChannel) -> EventLoopFuture<Void>.Isolated {
        switch channel.subscription {
        case .active:
            return self.eventLoop.makeSucceededVoidFuture().assumeIsolated()
        case .pending(let future):
            return future.assumeIsolated()
        case .none:
            let future = self.subscriptions.send(RESPCommand("SUBSCRIBE", channel.keys.pubSub)).assumeIsolated()
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

    func unsubscribe(_ subscription: Subscription) {
        guard let channel = self.channels[subscription.channel], channel.token == subscription.token else { return }
        channel.subscribersPerHub[subscription.hubIndex] -= 1
        channel.subscriberTotal -= 1
        if channel.subscriberTotal == 0 { channel.idleSince = .now() }
    }

    private func channel(named name: ChannelName) -> RemoteChannel {
        if let channel = self.channels[name] { return channel }
        let channel = RemoteChannel(name: name, token: self.nextToken, hubCount: self.fanOut.count)
        self.nextToken += 1
        self.channels[name] = channel
        return channel
    }

    // MARK: - The live feed

    private func received(_ payload: ByteBuffer, on pubSubChannel: ByteBuffer) {
        guard let name = RedisKeys.channel(fromPubSub: String(buffer: pubSubChannel)),
            let channel = self.channels[name], let live = LiveMessage(payload)
        else { return }
        switch live {
        case .deleted:
            self.endSubscribers(of: channel, reason: .channelDeleted)
            channel.epoch = nil
            channel.lastForwarded = 0
            channel.recent.removeAll()
            channel.parked.removeAll()
        case .message(let epoch, let seq, let payload):
            let message = Message(channel: name, seq: seq, payload: payload, publishedAt: .now())
            self.receivedLive(message, epoch: epoch, in: channel)
        }
    }

    private func receivedLive(_ message: Message, epoch: UInt64, in channel: RemoteChannel) {
        guard let followed = channel.epoch else {
            self.park(message, epoch: epoch, in: channel)  // until the first catch-up names the epoch
            return
        }
        if epoch != followed {
            self.logger.info(
                "channel reset in Redis",
                metadata: ["channel": "\(channel.name)", "epoch": "\(followed) -> \(epoch)"]
            )
            self.endSubscribers(of: channel, reason: .channelReset)
            channel.follow(epoch: epoch, after: 0)
        }
        guard message.seq > channel.lastForwarded else { return }
        if message.seq == channel.lastForwarded + 1 {
            self.forward(message, in: channel)
            self.forwardParked(channel)
        } else {
            self.park(message, epoch: epoch, in: channel)
            self.fillGap(in: channel)
        }
    }

    private func park(_ message: Message, epoch: UInt64, in channel: RemoteChannel) {
        guard channel.parked.count < RemoteChannel.parkedLimit else { return }
        channel.parked[message.seq] = (epoch, message)
    }

    /// Forwards parked messages that are next in line.
    private func forwardParked(_ channel: RemoteChannel) {
        while let next = channel.parked.removeValue(forKey: channel.lastForwarded + 1) {
            guard next.epoch == channel.epoch else { continue }
            self.forward(next.message, in: channel)
        }
        channel.parked = channel.parked.filter { $0.key > channel.lastForwarded && $0.value.epoch == channel.epoch }
    }

    /// Reads the messages after the last forwarded one from the history
    /// stream, forwards them, then what was parked.
    private func fillGap(in channel: RemoteChannel) {
        guard !channel.isFillingGap, let epoch = channel.epoch else { return }
        channel.isFillingGap = true
        let after = channel.lastForwarded
        self.readCatchUp(channel.keys, after: after, epoch: epoch).whenComplete { result in
            channel.isFillingGap = false
            guard self.channels[channel.name] === channel, channel.epoch == epoch else { return }
            channel.needsRefill = false
            switch result {
            case .success(let snapshot) where snapshot.isReset:
                self.logger.info("channel reset in Redis", metadata: ["channel": "\(channel.name)"])
                self.endSubscribers(of: channel, reason: .channelReset)
                channel.follow(epoch: snapshot.epoch, after: snapshot.seq)
            case .success(let snapshot):
                for message in snapshot.messages where message.seq > channel.lastForwarded {
                    if message.seq > channel.lastForwarded + 1 { self.skipped(channel, upTo: message.seq - 1) }
                    self.forward(message, in: channel)
                }
                if let nextParked = channel.parked.keys.min(), nextParked > channel.lastForwarded + 1 {
                    self.skipped(channel, upTo: nextParked - 1)
                }
                self.forwardParked(channel)
            case .failure(let error):
                // The next sweep, or the command connection coming back, tries again.
                channel.needsRefill = true
                self.logger.debug(
                    "cannot fill a gap yet",
                    metadata: ["channel": "\(channel.name)", "error": "\(error)"]
                )
            }
        }
    }

    /// Messages gone from the history before this node could forward them.
    private func skipped(_ channel: RemoteChannel, upTo seq: UInt64) {
        self.logger.warning(
            "live messages no longer in history were skipped",
            metadata: ["channel": "\(channel.name)", "from": "\(channel.lastForwarded + 1)", "to": "\(seq)"]
        )
        channel.lastForwarded = seq
    }

    private func forward(_ message: Message, in channel: RemoteChannel) {
        channel.forwarded(message)
        self.outboxes.append(message, toHubsWithSubscribers: channel.subscribersPerHub)
    }

    private func endSubscribers(of channel: RemoteChannel, reason: FinishReason) {
        self.outboxes.flush()
        for hub in channel.subscribersPerHub.indices where channel.subscribersPerHub[hub] > 0 {
            self.fanOut.finish(channel: channel.name, reason: reason, onHub: hub)
        }
    }

    // MARK: - Reconnection and upkeep

    private func subscriptionsLost() {
        for channel in self.channels.values {
            channel.subscription = .none
        }
    }

    /// Subscribes again to every followed channel and reads what was missed meanwhile.
    private func subscriptionsReconnected() {
        for channel in self.channels.values where channel.subscriberTotal > 0 {
            channel.subscription = .none
            channel.needsRefill = true
            self.ensureSubscribed(channel).whenSuccess {
                self.fillGap(in: channel)
            }
        }
    }

    private func refillWhereNeeded() {
        for channel in self.channels.values where channel.needsRefill {
            self.fillGap(in: channel)
        }
    }

    /// Every second: let go of channels nobody here has wanted for a while,
    /// retry gap fills that failed, and (every 30 s) keep followed channels
    /// from expiring while nobody publishes.
    func sweep() {
        self.sweeps += 1
        let now = NIODeadline.now()
        for channel in Array(self.channels.values) {
            if channel.subscriberTotal == 0, let since = channel.idleSince, since + self.settings.linger <= now {
                self.channels[channel.name] = nil
                if case .active = channel.subscription {
                    _ = self.subscriptions.send(RESPCommand("UNSUBSCRIBE", channel.keys.pubSub))
                }
                continue
            }
            if !channel.parked.isEmpty || channel.needsRefill { self.fillGap(in: channel) }
            if channel.subscriberTotal > 0 && self.sweeps % 30 == 0 {
                let lifetime = self.settings.historyTTLMillis + self.settings.idleTTLMillis
                _ = self.commands.send(RESPCommand("PEXPIRE", [.text(channel.keys.meta), .integer(lifetime)]))
            }
        }
    }

    // MARK: - Admin

    func info(_ name: ChannelName) -> EventLoopFuture<ChannelInfo?> {
        let keys = RedisKeys(name)
        let subscribers = self.channels[name]?.subscriberTotal ?? 0
        return RedisScripts.info.run(on: self.commands, keys: [.text(keys.meta), .text(keys.history)], arguments: [])
            .flatMapThrowing { reply in
                guard let parts = reply.array else { return nil }
                guard parts.count == 5, let seq = parts[0].integer, let count = parts[3].integer else {
                    throw RedisReplyError(message: "unexpected info reply")
                }
                let firstID = parts[4].string ?? ""
                return ChannelInfo(
                    channel: name,
                    seq: UInt64(seq),
                    subscribers: subscribers,
                    history: Int(count),
                    firstSeq: UInt64(firstID.prefix { $0 != "-" }),
                    lastPublishMillis: parts[2].string.flatMap { Int64($0) }
                )
            }
    }

    func delete(_ name: ChannelName) -> EventLoopFuture<Bool> {
        let keys = RedisKeys(name)
        return RedisScripts.delete.run(
            on: self.commands,
            keys: [.text(keys.meta), .text(keys.history), .text(RedisKeys.channelIndex)],
            arguments: [.text(keys.pubSub), .text(name.value)]
        ).map { $0.integer == 1 }
    }

    func list(prefix: String, after: String?, limit: Int) -> EventLoopFuture<[ChannelName]> {
        RedisScripts.list.run(
            on: self.commands,
            keys: [.text(RedisKeys.channelIndex)],
            arguments: [.text(prefix), .text(after ?? ""), .integer(Int64(limit)), .text(RedisKeys.prefix)]
        ).map { reply in
            (reply.array ?? []).compactMap { $0.string.flatMap { try? ChannelName(validating: $0, maxBytes: Int.max) } }
        }
    }

    func statistics() -> EventLoopFuture<EngineStatistics> {
        let channels = self.commands.send(RESPCommand("ZCARD", RedisKeys.channelIndex))
        let published = self.commands.send(RESPCommand("HGET", RedisKeys.statistics, "published"))
        return channels.and(published).map { channels, published in
            var statistics = EngineStatistics()
            statistics.channels = Int(channels.integer ?? 0)
            statistics.messagesPublished = Int(published.integer ?? 0)
            return statistics
        }
    }
}

@available(*, unavailable)
extension RedisChannelStore: Sendable {}
