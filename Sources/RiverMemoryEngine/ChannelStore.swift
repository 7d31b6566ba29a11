import DequeModule
import NIOCore
import RiverCore

/// The channels whose home is one event loop, and everything about them:
/// sequence counters, history, who listens on which loop, retention and
/// reclamation. Confined to that loop; the `MemoryEngine` routes each call here.
///
/// Its share of `max_memory` pays for retained messages and for channel
/// records alike, and its share of `max_channels` caps how many channels it
/// holds. A new channel that does not fit first reclaims idle channels (no
/// subscribers, no history; oldest first, before their idle TTL), then evicts
/// the oldest messages (reclaiming the channels they leave idle); when every
/// channel left has subscribers, the publish or subscribe fails with
/// `EngineError.full` (503).
final class ChannelStore {
    let index: Int
    let eventLoop: EventLoop
    private let limits: HistoryLimits
    private let fanOut: FanOut
    private let clock: MonotonicClock
    /// This store's share of `max_memory`.
    private let memoryBudget: Int
    /// This store's share of `max_channels`.
    private let channelBudget: Int

    private var channels: [ChannelName: ChannelState] = [:]
    private var retention = RetentionQueue()
    private var idleChannels: Deque<(state: ChannelState, since: NIODeadline)> = []
    /// Members whose last subscription ended, in the order their leaves come due.
    private var pendingLeaves: Deque<(state: ChannelState, member: PresenceMember, due: NIODeadline)> = []
    private var leaveTimerArmed = false
    /// `presence_leave_delay`.
    private let leaveDelay: TimeAmount
    /// The engine's count of members, all stores together.
    private let presenceTally: PresenceTally
    /// Live messages waiting to cross to each hub, flushed once per loop tick.
    private let outboxes: HubOutboxes
    private var nextToken: UInt64 = 1

    private var retainedMessages = 0
    private var retainedBytes = 0
    /// What the channel records are charged (`HistoryLimits.chargedBytes(channelName:)`).
    private var channelBytes = 0
    private var channelsWithSubscribers = 0
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
        clock: MonotonicClock,
        leaveDelay: TimeAmount,
        presenceTally: PresenceTally
    ) {
        self.leaveDelay = leaveDelay
        self.presenceTally = presenceTally
        self.index = index
        self.eventLoop = eventLoop
        self.limits = limits
        self.fanOut = fanOut
        self.clock = clock
        self.memoryBudget = max(limits.maxMemory / storeCount, 0)
        self.channelBudget = max((limits.channelLimit + storeCount - 1) / storeCount, 1)
        self.outboxes = HubOutboxes(fanOut: fanOut, eventLoop: eventLoop)
    }

    // MARK: - Publish

    func publish(_ payload: ByteBuffer, isBinary: Bool, to name: ChannelName) -> Result<UInt64, EngineError> {
        let now = self.clock.now()
        guard let state = self.state(for: name, now: now) else { return .failure(self.noRoom) }
        state.seq += 1
        state.lastPublishMillis = WallClock.nowMillis()
        let message = Message(channel: name, seq: state.seq, payload: payload, isBinary: isBinary, publishedAt: now)
        self.counters.messagesPublished += 1
        self.retain(message, in: state)
        self.outboxes.append(message, toHubsWithSubscribers: state.subscribersPerHub)
        self.noteIfIdle(state, now: now)
        return .success(state.seq)
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
        while self.chargedBytes > self.memoryBudget, let entry = self.retention.removeFirst() {
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

    func subscribe(
        to name: ChannelName,
        from point: ResumePoint,
        hubIndex: Int,
        member: PresenceMember?
    ) -> Result<SubscribeResult, EngineError> {
        guard let state = self.state(for: name, now: self.clock.now()) else { return .failure(self.noRoom) }
        if state.subscriberTotal == 0 { self.channelsWithSubscribers += 1 }
        state.subscribersPerHub[hubIndex] += 1
        state.subscriberTotal += 1
        if state.presence.subscribed(member), let member {
            self.presenceTally.add(1)
            self.announce(PresenceEvent(.join, channel: name, member: member), in: state)
        }
        let catchUp = state.history.catchUp(from: point, currentSeq: state.seq, epoch: state.epoch)
        return .success(
            SubscribeResult(
                interest: Interest(channel: name, hubIndex: hubIndex, token: state.token, member: member),
                catchUp: catchUp
            )
        )
    }

    func unsubscribe(_ interest: Interest) {
        guard let state = self.channels[interest.channel], state.token == interest.token else { return }
        state.subscribersPerHub[interest.hubIndex] -= 1
        state.subscriberTotal -= 1
        if state.subscriberTotal == 0 { self.channelsWithSubscribers -= 1 }
        let now = self.clock.now()
        if state.presence.unsubscribed(interest.member, leaveDue: now + self.leaveDelay), let member = interest.member {
            self.pendingLeaves.append((state, member, now + self.leaveDelay))
            self.armLeaveTimer()
        }
        self.noteIfIdle(state, now: now)
    }

    // MARK: - Presence

    func presence(of name: ChannelName, limit: Int) -> PresenceSnapshot {
        guard let state = self.channels[name] else { return PresenceSnapshot(channel: name) }
        return state.presence.snapshot(of: name, limit: limit)
    }

    /// Hands a join or leave to every hub with subscribers to the channel.
    private func announce(_ event: PresenceEvent, in state: ChannelState) {
        // (Live messages queued this tick go first: a leave follows what its user published.)
        self.outboxes.flush()
        for hub in state.subscribersPerHub.indices where state.subscribersPerHub[hub] > 0 {
            self.fanOut.send(event, toHub: hub)
        }
    }

    /// Schedules the next due leave, unless one is scheduled.
    private func armLeaveTimer() {
        guard !self.leaveTimerArmed, let next = self.pendingLeaves.first else { return }
        self.leaveTimerArmed = true
        let store = NIOLoopBound(self, eventLoop: self.eventLoop)
        let delay = next.due - self.clock.now()
        self.eventLoop.scheduleTask(in: max(delay, .zero)) { store.value.leavesDue() }
    }

    /// Members whose leave came due leave (unless they came back meanwhile).
    private func leavesDue() {
        self.leaveTimerArmed = false
        let now = self.clock.now()
        while let front = self.pendingLeaves.first, front.due <= now {
            self.pendingLeaves.removeFirst()
            guard !front.state.isRetired, let member = front.state.presence.leave(front.member, dueAt: front.due)
            else { continue }
            self.presenceTally.add(-1)
            self.announce(PresenceEvent(.leave, channel: front.state.name, member: member), in: front.state)
            self.noteIfIdle(front.state, now: now)
        }
        self.armLeaveTimer()
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
        guard let state = self.channels[name] else { return false }
        self.remove(state)
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

    /// History and channel records: what `max_memory` bounds.
    private var chargedBytes: Int { self.retainedBytes + self.channelBytes }

    private var noRoom: EngineError {
        .full(
            "no room for another channel within max_channels (\(self.limits.channelLimit)) and max_memory: "
                + "the channels held all have subscribers"
        )
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
                self.remove(state)
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

    /// The channel's state, created if needed; nil when there is no room for a new channel.
    private func state(for name: ChannelName, now: NIODeadline) -> ChannelState? {
        if let state = self.channels[name] { return state }
        let cost = HistoryLimits.chargedBytes(channelName: name.byteCount)
        guard self.makeRoom(forChannelCosting: cost) else { return nil }
        let state = ChannelState(name: name, token: self.nextToken, hubCount: self.fanOut.count, now: now)
        self.nextToken += 1
        self.channels[name] = state
        self.channelBytes += cost
        self.channelsHighWater = max(self.channelsHighWater, self.channels.count)
        self.noteIfIdle(state, now: now)
        return state
    }

    /// Frees room for a channel record costing `cost`: idle channels first
    /// (oldest first, whatever their idle TTL), then the oldest messages, the
    /// channels they leave idle going too. False when what is left has
    /// subscribers. Each queue entry is removed once, so the work is amortized.
    private func makeRoom(forChannelCosting cost: Int) -> Bool {
        var countIsFull: Bool { self.channels.count >= self.channelBudget }
        var isFull: Bool { countIsFull || self.chargedBytes + cost > self.memoryBudget }
        while isFull, let front = self.idleChannels.popFirst() {
            let state = front.state
            state.inIdleQueue = false
            guard !state.isRetired, state.isIdle else { continue }
            self.remove(state)
            self.counters.channelsReclaimed += 1
        }
        // Evicting only helps the count if some channel has no subscribers.
        while isFull, !countIsFull || self.channels.count > self.channelsWithSubscribers,
            let entry = self.retention.removeFirst()
        {
            guard entry.isOldestRetained, let oldest = entry.state.history.removeOldest() else { continue }
            self.forget(oldest)
            self.counters.messagesEvicted += 1
            if entry.state.isIdle {
                self.remove(entry.state)
                self.counters.channelsReclaimed += 1
            }
        }
        return !isFull
    }

    private func noteIfIdle(_ state: ChannelState, now: NIODeadline) {
        guard state.isIdle, !state.isRetired else { return }
        state.idleSince = now
        if !state.inIdleQueue {
            state.inIdleQueue = true
            self.idleChannels.append((state, now))
        }
    }

    /// Drops a channel (deleted or reclaimed) and everything charged for it.
    private func remove(_ state: ChannelState) {
        self.channels[state.name] = nil
        self.channelBytes -= HistoryLimits.chargedBytes(channelName: state.name.byteCount)
        if state.subscriberTotal > 0 { self.channelsWithSubscribers -= 1 }
        self.presenceTally.add(-state.presence.records.count)
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
