import NIOCore
import RiverCore

/// The live feed: messages Redis pushes on the pub/sub connections go to the
/// hubs in seq order, without gaps or duplicates. A message that arrives
/// ahead of a gap is parked while the gap is read from the history stream;
/// a pub/sub connection that comes back (Redis restarted, the master moved)
/// subscribes again and reads what was published meanwhile.
extension RedisChannelStore {
    func received(_ payload: ByteBuffer, on pubSubChannel: ByteBuffer) {
        if Self.isControl(pubSubChannel) { return self.receivedControl(payload) }
        if Self.isHeartbeat(pubSubChannel) { return self.receivedHeartbeat(payload) }
        guard let name = RedisKeys.channel(fromPubSub: pubSubChannel),
            let channel = self.channels[name], let live = LiveMessage(payload)
        else { return }
        switch live {
        case .presence(let kind, let member):
            self.receivedPresence(kind, member, in: channel)
        case .deleted:
            self.endSubscribers(of: channel, reason: .channelDeleted)
            channel.epoch = nil
            channel.lastForwarded = 0
            channel.recent.removeAll()
            channel.parked.removeAll()
        case .message(let epoch, let seq, let kind, let payload):
            let message = Message(
                channel: name,
                seq: seq,
                payload: payload,
                isBinary: kind.isBinary,
                publishedAt: .now()
            )
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
    func forwardParked(_ channel: RemoteChannel) {
        while let next = channel.parked.removeValue(forKey: channel.lastForwarded + 1) {
            guard next.epoch == channel.epoch else { continue }
            self.forward(next.message, in: channel)
        }
        channel.parked = channel.parked.filter { $0.key > channel.lastForwarded && $0.value.epoch == channel.epoch }
    }

    /// Reads the messages after the last forwarded one from the history
    /// stream, forwards them, then what was parked. A history that is behind
    /// what was forwarded (a failover lost writes that had been announced)
    /// is a reset: the streams end, and their clients resume from what the
    /// new master has.
    func fillGap(in channel: RemoteChannel) {
        guard !channel.isFillingGap, let epoch = channel.epoch else { return }
        channel.isFillingGap = true
        let after = channel.lastForwarded
        self.readCatchUp(channel.name, after: after, epoch: epoch).whenComplete { result in
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

    func endSubscribers(of channel: RemoteChannel, reason: FinishReason) {
        self.outboxes.flush()
        for hub in channel.subscribersPerHub.indices where channel.subscribersPerHub[hub] > 0 {
            self.fanOut.finish(channel: channel.name, reason: reason, onHub: hub)
        }
    }

    // MARK: - Reconnection

    func subscriptionsLost(shard: Int) {
        for channel in self.channels.values where channel.shard == shard {
            channel.subscription = .none
        }
    }

    /// Subscribes again to every followed channel of the shard and reads what was missed meanwhile.
    func subscriptionsReconnected(shard: Int) {
        if shard == 0 {
            self.subscribeToControl()
            self.subscribeToHeartbeats()
        }
        for channel in self.channels.values where channel.shard == shard && channel.subscriberTotal > 0 {
            channel.subscription = .none
            channel.needsRefill = true
            self.ensureSubscribed(channel).whenSuccess {
                self.fillGap(in: channel)
            }
        }
    }

    func refillWhereNeeded(shard: Int) {
        for channel in self.channels.values where channel.shard == shard && channel.needsRefill {
            self.fillGap(in: channel)
        }
    }
}
