import DequeModule
import NIOCore
import RiverCore

/// The channels whose home is one event loop, and everything about them:
/// sequence counters, history, who listens on which loop, retention and
/// reclamation. Confined to that loop; the `MemoryEngine` routes each call here.
final class ChannelStore {
    let index: Int
    let eventLoop: EventLoop
    private let limits: HistoryLimits
    private let fanOut: FanOut
    private let clock: MonotonicClock
    /// This store's share of `max_memory`.
    private let memoryBudget: Int

    private var channels: [ChannelName: ChannelState] = [:]
    private var retention = RetentionQueue()
    private var idleChannels: Deque<(state: ChannelState, since: NIODeadline)> = []
    /// Live messages waiting to cross to each hub, flushed once per loop tick.
    private let outboxes: HubOutboxes
    private var nextToken: UInt64 = 1

    private var retainedMessages = 0
    private var retainedBytes = 0
    private var counters = EngineStatistics()
    /// The most channels held since the tables were last rebuilt.
    private var channelsHighWater = 0
    /// A reap that removes at least this many items also gives memory back.
    private static let trimThreshold = 1024

    init(
        index: Int,
        eventLoop: EventLoop,
        limits: HistoryLimits,
        fanOut: FanOut,
        storeCount: Int,
        clock: MonotonicClock
    ) {
        self.index = index
        self.eventLoop = eventLoop
        self.limits = limits
        self.fanOut = fanOut
        self.clock = clock
        self.memoryBudget = max(limits.maxMemory / storeCount, 0)
        self.outboxes = HubOutboxes(fanOut: fanOut, eventLoop: eventLoop)
    }

    // MARK: - Publish

    func publish(_ payload: ByteBuffer, isBinary: Bool, to name: ChannelName) -> UInt64 {
        let now = self.clock.now()
        let state = self.state(for: name, now: now)
        state.seq += 1
        state.lastPublishMillis = WallClock.nowMillis()
        let message = Message(channel: name, seq: state.seq, payload: payload, isBinary: isBinary, publishedAt: now)
        self.counters.messagesPublished += 1
        self.retain(message, in: state)
        self.outboxes.append(message, toHubsWithSubscribers: state.subscribersPerHub)
        self.noteIfIdle(state, now: now)
        return state.seq
    }

    private func retain(_ message: Message, in state: ChannelState) {
        guard self.limits.size > 0 else { return }
        let charged = HistoryLimits.chargedBytes(payload: message.payload.readableBytes)
        state.history.append(message)
        self.retainedMessages += 1
        self.retainedBytes += charged
        self.retention.append(
            .init(state: state, seq: message.seq, publishedAt: message.publishedAt, chargedBytes: charged)
        )
        while state.history.count > self.limits.size, let oldest = state.history.removeOldest() {
            self.forget(oldest)
        }
        while self.retainedBytes > self.memoryBudget, let entry = self.retention.removeFirst() {
            if entry.isOldestRetained, let oldest = entry.state.history.removeOldest() {
                self.forget(oldest)
                self.counters.messagesEvicted += 1
                if entry.state !== state { self.noteIfIdle(entry.state, now: message.publishedAt) }
            }
        }
        self.retention.compactIfNeeded(retained: self.retainedMessages)
    }

    private func forget(_ message: Message) {
        self.retainedMessages -= 1
        self.retainedBytes -= HistoryLimits.chargedBytes(payload: message.payload.readableBytes)
    }

    // MARK: - Subscribe

    func subscribe(to name: ChannelName, from point: ResumePoint, hubIndex: Int) -> Subscribed {
        let state = self.state(for: name, now: self.clock.now())
        state.subscribersPerHub[hubIndex] += 1
        state.subscriberTotal += 1
        let catchUp = state.history.catchUp(from: point, currentSeq: state.seq, epoch: state.epoch)
        return Subscribed(
            subscription: Subscription(channel: name, hubIndex: hubIndex, token: state.token),
            catchUp: catchUp
        )
    }

    func unsubscribe(_ subscription: Subscription) {
        guard let state = self.channels[subscription.channel], state.token == subscription.token else { return }
        state.subscribersPerHub[subscription.hubIndex] -= 1
        state.subscriberTotal -= 1
        self.noteIfIdle(state, now: self.clock.now())
    }

    // MARK: - Admin

    func info(_ name: ChannelName) -> ChannelInfo? {
        guard let state = self.channels[name] else { return nil }
        return ChannelInfo(
            channel: name,
            seq: state.seq,
            subscribers: state.subscriberTotal,
            history: state.history.count,
            firstSeq: state.history.first?.seq,
            lastPublishMillis: state.lastPublishMillis
        )
    }

    /// This store's page of the listing (the engine merges the stores' pages);
    /// `prefix` and `after` are compared byte for byte.
    func list(prefix: String, after: String?, limit: Int) -> [ChannelName] {
        var names: [ChannelName] = []
        for name in self.channels.keys where name.hasPrefix(bytesOf: prefix) {
            if let after, !name.sorts(after: after) { continue }
            names.append(name)
        }
        names.sort()
        return Array(names.prefix(limit))
    }

    func delete(_ name: ChannelName) -> Bool {
        guard let state = self.channels.removeValue(forKey: name) else { return false }
        self.retire(state)
        for hub in state.subscribersPerHub.indices where state.subscribersPerHub[hub] > 0 {
            self.fanOut.finish(channel: name, reason: .channelDeleted, onHub: hub)
        }
        return true
    }

    var statistics: EngineStatistics {
        var statistics = self.counters
        statistics.channels = self.channels.count
        statistics.historyMessages = self.retainedMessages
        statistics.historyBytes = self.retainedBytes
        return statistics
    }

    // MARK: - Retention and reclamation

    /// Expires history older than the TTL and forgets channels idle longer than
    /// the idle TTL. Runs periodically; cost is proportional to what it removes.
    func reap() {
        let now = self.clock.now()
        let removedBefore = self.counters.messagesExpired + self.counters.channelsReclaimed
        while let entry = self.retention.first, entry.publishedAt + self.limits.ttl <= now {
            _ = self.retention.removeFirst()
            if entry.isOldestRetained, let oldest = entry.state.history.removeOldest() {
                self.forget(oldest)
                self.counters.messagesExpired += 1
                self.noteIfIdle(entry.state, now: now)
            }
        }
        while let front = self.idleChannels.first, front.since + self.limits.channelIdleTTL <= now {
            self.idleChannels.removeFirst()
            let state = front.state
            guard !state.isRetired, state.isIdle else {
                state.inIdleQueue = false
                continue
            }
            if state.idleSince + self.limits.channelIdleTTL <= now {
                state.inIdleQueue = false
                self.channels[state.name] = nil
                self.retire(state)
                self.counters.channelsReclaimed += 1
            } else {
                // Became busy and idle again since it was queued: wait its full TTL.
                self.idleChannels.append((state, state.idleSince))
            }
        }
        if self.counters.messagesExpired + self.counters.channelsReclaimed - removedBefore >= Self.trimThreshold {
            self.shrinkTables()
        }
    }

    /// Swift's dictionaries and deques keep their peak capacity; after a large
    /// purge, rebuild them at their current size and hand freed pages back.
    private func shrinkTables() {
        if self.channels.count < self.channelsHighWater / 4 {
            self.channels = Dictionary(uniqueKeysWithValues: self.channels.map { ($0.key, $0.value) })
            self.channelsHighWater = self.channels.count
        }
        self.idleChannels = Deque(self.idleChannels)
        self.retention.shrink()
        HeapTrimming.releaseFreeMemory()
    }

    private func state(for name: ChannelName, now: NIODeadline) -> ChannelState {
        if let state = self.channels[name] { return state }
        let state = ChannelState(name: name, token: self.nextToken, hubCount: self.fanOut.count, now: now)
        self.nextToken += 1
        self.channels[name] = state
        self.channelsHighWater = max(self.channelsHighWater, self.channels.count)
        self.noteIfIdle(state, now: now)
        return state
    }

    private func noteIfIdle(_ state: ChannelState, now: NIODeadline) {
        guard state.isIdle, !state.isRetired else { return }
        state.idleSince = now
        if !state.inIdleQueue {
            state.inIdleQueue = true
            self.idleChannels.append((state, now))
        }
    }

    private func retire(_ state: ChannelState) {
        state.isRetired = true
        self.retainedMessages -= state.history.count
        var bytes = 0
        while let message = state.history.removeOldest() {
            bytes += HistoryLimits.chargedBytes(payload: message.payload.readableBytes)
        }
        self.retainedBytes -= bytes
    }
}

@available(*, unavailable)
extension ChannelStore: Sendable {}
