import NIOCore
import RiverCore

/// Channel facts, deletion, the listing and statistics (merged across
/// shards), and the once-a-second upkeep. A shard that fails makes what
/// needs it fail with `EngineError.unavailable` naming it (503), never
/// with the Redis client's own error; statistics skip it and say so.
extension RedisChannelStore {
    func info(_ name: ChannelName) -> EventLoopFuture<ChannelInfo?> {
        let subscribers = self.channels[name]?.subscriberTotal ?? 0
        let cutoff = WallClock.nowMillis() - self.settings.historyTTLMillis
        let link = self.link(for: name)
        let reply = RedisScripts.info.run(
            on: link.commands,
            keys: [RedisKeys.meta(name), RedisKeys.history(name)],
            arguments: [.integer(Int64(self.settings.historySize)), .integer(cutoff)]
        ).flatMapThrowing { reply -> ChannelInfo? in
            guard let parts = reply.array else { return nil }
            guard parts.count == 4, let seq = parts[0].integer, seq >= 0, let first = parts[3].integer, first >= 0,
                first <= seq
            else { throw RedisReplyError(message: "unexpected info reply") }
            return ChannelInfo(
                channel: name,
                seq: UInt64(seq),
                subscribers: subscribers,
                history: first > 0 ? Int(seq - first + 1) : 0,
                firstSeq: first > 0 ? UInt64(first) : nil,
                lastPublishMillis: parts[2].integer
            )
        }
        return link.reportingFaults(reply)
    }

    func delete(_ name: ChannelName) -> EventLoopFuture<Bool> {
        let link = self.link(for: name)
        let reply = RedisScripts.delete.run(
            on: link.commands,
            keys: [RedisKeys.meta(name), RedisKeys.history(name), .text(RedisKeys.channelIndex)],
            arguments: [RedisKeys.pubSub(name), .text(name.value)]
        )
        return link.reportingFaults(reply.map { $0.integer == 1 })
    }

    /// One page from every shard, merged in byte order; fails, naming the
    /// shard, if one is down (a page that silently skipped a shard's names
    /// would mislead paging).
    func list(prefix: String, after: String?, limit: Int) -> EventLoopFuture<[ChannelName]> {
        let pages = self.links.map { link in
            let reply = RedisScripts.list.run(
                on: link.commands,
                keys: [.text(RedisKeys.channelIndex)],
                arguments: [.text(prefix), .text(after ?? ""), .integer(Int64(limit)), .text("\(RedisKeys.prefix)")]
            )
            return link.reportingFaults(
                reply.map { reply in
                    (reply.array ?? []).compactMap { name in
                        name.bytes.flatMap { try? ChannelName(validating: $0.readableBytesView, maxBytes: Int.max) }
                    }
                }
            )
        }
        return EventLoopFuture.whenAllSucceed(pages, on: self.eventLoop).map { pages in
            let merged = pages.joined().sorted { $0.value.utf8.lexicographicallyPrecedes($1.value.utf8) }
            return Array(merged.prefix(limit))
        }
    }

    /// Channels and publishes, summed over the shards that answer; a shard
    /// that does not is listed in `unavailableShards` instead, so `/stats`
    /// still answers, and says what its sums leave out.
    func statistics() -> EventLoopFuture<EngineStatistics> {
        let parts = self.links.map { link in
            let sent = NIODeadline.now()
            let channels = link.commands.send(RESPCommand("ZCARD", RedisKeys.channelIndex))
            let published = link.commands.send(RESPCommand("HGET", RedisKeys.statistics, "published"))
            let shard = link.shard + 1
            return channels.and(published).assumeIsolated().flatMapThrowing { channels, published in
                for case .error(let message) in [channels, published] { throw RedisReplyError(message: message) }
                var statistics = EngineStatistics()
                statistics.channels = Int(clamping: max(channels.integer ?? 0, 0))
                statistics.messagesPublished = Int(clamping: max(published.integer ?? 0, 0))
                let latency = Int((NIODeadline.now() - sent).nanoseconds / 1000)
                statistics.shards = [ShardHealth(number: shard, latencyMicros: latency)]
                return statistics
            }.recover { error in
                var statistics = EngineStatistics()
                statistics.unavailableShards = [link.unavailableShard(error)]
                statistics.shards = [
                    ShardHealth(
                        number: shard,
                        latencyMicros: nil,
                        isSwitching: link.commands.target.sentinelVerdict == .failingOver
                    )
                ]
                return statistics
            }.nonisolated()
        }
        return EventLoopFuture.reduce(EngineStatistics(), parts, on: self.eventLoop, +)
    }

    /// Adds this loop's acknowledged publishes to each shard's counter.
    func reportPublishes() -> EventLoopFuture<Void> {
        EventLoopFuture.andAllComplete(self.links.map { $0.reportPublishes() }, on: self.eventLoop)
    }

    /// This loop's reconnects to each shard (both connections), in shard order.
    func reconnects() -> [Int] {
        self.links.map { $0.commands.reconnects + $0.subscriptions.reconnects }
    }

    /// Every second: close connections Redis stopped answering, beat the
    /// presence heartbeat, let go of channels nobody here has wanted for a
    /// while (and whose presence is written), retry gap fills that
    /// failed, report publishes, and (every 30 s) keep followed channels from
    /// expiring while nobody publishes.
    func sweep() {
        self.sweeps += 1
        let now = NIODeadline.now()
        for link in self.links {
            link.commands.checkStalled(now: now, timeout: self.settings.replyTimeout)
            link.subscriptions.checkStalled(now: now, timeout: self.settings.replyTimeout)
        }
        self.published.sweep(now: now)
        _ = self.reportPublishes()
        self.presenceHeartbeat()
        for channel in Array(self.channels.values) {
            if channel.subscriberTotal == 0, let since = channel.idleSince, since + self.settings.linger <= now,
                channel.presence.isEmpty, !channel.isPresenceQueued
            {
                self.channels[channel.name] = nil
                if case .active = channel.subscription {
                    let subscriptions = self.links[channel.shard].subscriptions
                    subscriptions.send(RESPCommand("UNSUBSCRIBE", [RedisKeys.pubSub(channel.name)])) { _ in }
                }
                continue
            }
            if !channel.parked.isEmpty || channel.needsRefill { self.fillGap(in: channel) }
            if channel.subscriberTotal > 0 && self.sweeps % 30 == 0 {
                let commands = self.links[channel.shard].commands
                let meta = RedisKeys.meta(channel.name)
                commands.send(RESPCommand("PEXPIRE", [meta, .integer(self.settings.metaLifetimeMillis)])) { _ in }
            }
        }
    }
}
