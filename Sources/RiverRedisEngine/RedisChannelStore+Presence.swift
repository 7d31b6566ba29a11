import NIOCore
import RiverCore

/// Presence across nodes (PROTOCOL.md C3, `PresenceScripts`): each loop
/// keeps its node's share of a channel's presence (`RemoteChannel.presence`,
/// with `presence_leave_delay` applied here) and writes what changed to
/// Redis in batches — one script call per channel per `presenceWriteDelay`,
/// however many subscriptions came and went. Redis decides when a member
/// joins or leaves the channel as a whole and publishes it on the channel's
/// pub/sub channel, so every node, this one included, announces the same
/// events. A heartbeat every second keeps the node listed; a node that
/// stops beating for `presence_ttl` is reaped by the others, its members leaving.
extension RedisChannelStore {
    /// A subscription with `member` started or ended here: write the share soon.
    func presenceChanged(_ member: PresenceMember?, in channel: RemoteChannel) {
        channel.presenceChanged(member)
        self.queuePresence(of: channel)
        guard !self.presenceWriteScheduled else { return }
        self.presenceWriteScheduled = true
        let store = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.scheduleTask(in: self.settings.presenceWriteDelay) { store.value.writeQueuedPresence() }
    }

    func presenceUnsubscribed(_ member: PresenceMember?, from channel: RemoteChannel) {
        let due = NIODeadline.now() + self.settings.presenceLeaveDelay
        if channel.presence.unsubscribed(member, leaveDue: due), let member {
            let bound = NIOLoopBound((store: self, channel: channel), eventLoop: self.eventLoop)
            self.eventLoop.scheduleTask(deadline: due) {
                bound.value.store.leaveDue(member, at: due, from: bound.value.channel)
            }
        }
        self.presenceChanged(member, in: channel)
    }

    private func leaveDue(_ member: PresenceMember, at due: NIODeadline, from channel: RemoteChannel) {
        guard self.channels[channel.name] === channel, channel.presence.leave(member, dueAt: due) != nil else {
            return
        }
        self.presenceTally.add(-1)
        self.presenceChanged(member, in: channel)
    }

    private func queuePresence(of channel: RemoteChannel) {
        guard !channel.isPresenceQueued else { return }
        channel.isPresenceQueued = true
        self.presenceQueue.append(channel)
    }

    func writeQueuedPresence() {
        self.presenceWriteScheduled = false
        let queue = self.presenceQueue
        self.presenceQueue = []
        for channel in queue where channel.isPresenceQueued {
            self.writePresence(of: channel)
        }
    }

    /// Writes the node's share of the channel: its subscriptions, and each
    /// changed member's (`-1`: it left this node). A failed write keeps the
    /// changes for the next one (the sweep retries every second).
    @discardableResult
    func writePresence(of channel: RemoteChannel) -> EventLoopFuture<Void> {
        channel.isPresenceQueued = false
        let changes = channel.takePresenceChanges()
        var arguments: [RESPCommand.Argument] = [
            .text(self.presenceNode), .integer(Int64(channel.presence.connections)),
            .text(channel.presence.isEmpty ? "1" : "0"), RedisKeys.pubSub(channel.name), .text(channel.name.value),
        ]
        arguments.reserveCapacity(arguments.count + 3 * changes.count)
        for member in changes {
            let record = channel.presence.records[member]
            arguments.append(.bytes(member.redisKey))
            arguments.append(.integer(Int64(record?.connections ?? -1)))
            arguments.append(.bytes(record?.member.info ?? ByteBuffer()))
        }
        let link = self.links[channel.shard]
        let written = PresenceScripts.update.run(
            on: link.commands,
            keys: [RedisKeys.presence(channel.name), .text(RedisKeys.presenceChannels(of: self.presenceNode))],
            arguments: arguments
        ).assumeIsolated().map { _ in }
        written.whenFailure { error in
            self.logger.debug(
                "presence not written yet",
                metadata: ["channel": "\(channel.name)", "error": "\(error)"]
            )
            for member in changes { channel.presenceChanged(member) }
            self.queuePresence(of: channel)
        }
        return written.nonisolated()
    }

    /// Who is on a channel across every live node: this node's pending
    /// changes are written first (on the same connection, so the read sees them).
    func presence(of name: ChannelName, limit: Int) -> EventLoopFuture<PresenceSnapshot> {
        if let channel = self.channels[name], channel.isPresenceQueued {
            self.writePresence(of: channel)
        }
        let link = self.link(for: name)
        let reply = PresenceScripts.read.run(
            on: link.commands,
            keys: [RedisKeys.presence(name), .text(RedisKeys.presenceNodes)],
            arguments: [.integer(WallClock.nowMillis()), .text(self.presenceNode)]
        ).assumeIsolated().flatMapThrowing { reply in
            guard let parts = reply.array, parts.count == 2, let connections = parts[0].integer,
                let fields = parts[1].array, fields.count % 3 == 0
            else { throw RedisReplyError(message: "unexpected presence reply") }
            var entries: [PresenceSnapshot.Entry] = []
            entries.reserveCapacity(fields.count / 3)
            for index in stride(from: 0, to: fields.count, by: 3) {
                guard var key = fields[index].bytes, let flag = key.readInteger(as: UInt8.self),
                    let info = fields[index + 1].bytes, let count = fields[index + 2].integer
                else { throw RedisReplyError(message: "unexpected presence member") }
                let member = PresenceMember(redisKey: key, flag: flag, info: info)
                entries.append(PresenceSnapshot.Entry(member: member, connections: Int(clamping: max(count, 0))))
            }
            entries.sort { PresenceMember.sortsBefore($0.member, $1.member) }
            var snapshot = PresenceSnapshot(channel: name)
            snapshot.connections = Int(clamping: max(connections, 0))
            snapshot.users = entries.count
            snapshot.members = Array(entries.prefix(limit))
            snapshot.truncated = entries.count > limit
            return snapshot
        }
        return link.reportingFaults(reply.nonisolated())
    }

    /// A join or leave Redis published: every hub here with subscribers to the channel gets it.
    func receivedPresence(_ kind: PresenceEvent.Kind, _ member: PresenceMember, in channel: RemoteChannel) {
        // (Live messages queued this tick go first: a leave follows what its user published.)
        self.outboxes.flush()
        let event = PresenceEvent(kind, channel: channel.name, member: member)
        for hub in channel.subscribersPerHub.indices where channel.subscribersPerHub[hub] > 0 {
            self.fanOut.send(event, toHub: hub)
        }
    }

    /// Every second: the node's heartbeat on every shard (reaping dead
    /// nodes), rewriting every share on a shard that had lost the node,
    /// and retrying writes that failed.
    func presenceHeartbeat() {
        let now = WallClock.nowMillis()
        let expiry = now + self.settings.presenceTTL.nanoseconds / 1_000_000
        for link in self.links {
            let shard = link.shard
            PresenceScripts.heartbeat.run(
                on: link.commands,
                keys: [.text(RedisKeys.presenceNodes)],
                arguments: [.text(self.presenceNode), .integer(expiry), .integer(now), .integer(Self.reapsPerBeat)]
            ) { result in
                guard case .success(let reply) = result, reply.integer == 1 else { return }
                self.rewritePresence(shard: shard)
            }
        }
        if !self.presenceQueue.isEmpty && !self.presenceWriteScheduled { self.writeQueuedPresence() }
    }

    /// Dead nodes reaped by one heartbeat at most (the next beat reaps more).
    static let reapsPerBeat: Int64 = 16

    /// Redis had lost this node (it was reaped, or restarted empty): write every share on the shard again.
    private func rewritePresence(shard: Int) {
        for channel in self.channels.values where channel.shard == shard && !channel.presence.isEmpty {
            for member in channel.presence.records.keys { channel.presenceChanged(member) }
            self.queuePresence(of: channel)
        }
        if !self.presenceWriteScheduled { self.writeQueuedPresence() }
    }

    /// Takes the node out of every shard's presence at once (shutdown): its members leave.
    func leavePresence() -> EventLoopFuture<Void> {
        let now = WallClock.nowMillis()
        let left = self.links.map { link in
            PresenceScripts.heartbeat.run(
                on: link.commands,
                keys: [.text(RedisKeys.presenceNodes)],
                arguments: [.text(self.presenceNode), .integer(0), .integer(now), .integer(Self.reapsPerBeat)]
            ).map { _ in }
        }
        // A Redis that does not answer within a second must not hold up shutdown: the heartbeat expires anyway.
        let promise = self.eventLoop.makePromise(of: Void.self)
        let done = NIOLoopBoundBox(false, eventLoop: self.eventLoop)
        let timeout = self.eventLoop.scheduleTask(in: min(self.settings.replyTimeout, .seconds(1))) {
            if !done.value { promise.succeed() }
            done.value = true
        }
        EventLoopFuture.andAllComplete(left, on: self.eventLoop).assumeIsolated().whenComplete { _ in
            timeout.cancel()
            if !done.value { promise.succeed() }
            done.value = true
        }
        return promise.futureResult
    }
}
