import NIOCore
import RiverCore

/// The hot path: one publish script per message on this loop's command
/// connection to the channel's shard. Publishes made during one loop tick,
/// from every connection of the loop, leave in one write (the connection
/// handler flushes once per tick) and their replies come back together.
extension RedisChannelStore {
    func publish(
        _ payload: ByteBuffer,
        isBinary: Bool,
        to name: ChannelName,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    ) {
        let link = self.link(for: name)
        let now = NIODeadline.now()
        let memo = self.published.memo(for: name)
        let refresh = self.published.needsRefresh(memo, now: now)
        let kind = MessageKind(isBinary: isBinary)
        RedisScripts.publish.run(
            on: link.commands,
            keys: [RedisKeys.meta(name), RedisKeys.history(name), .text(RedisKeys.channelIndex)],
            arguments: [
                .bytes(payload), kind.argument, RedisKeys.pubSub(name), .integer(Int64(self.settings.historySize)),
                .integer(WallClock.nowMillis()), memo.epoch.map { .integer(Int64($0)) } ?? .text(""),
                .integer(self.newEpoch()), .text(refresh ? "1" : "0"), .integer(self.settings.historyLifetimeMillis),
                .integer(self.settings.metaLifetimeMillis), .text(name.value),
            ]
        ) { result in
            let seq: UInt64
            let epoch: UInt64
            switch result {
            case .success(let reply):
                guard let (value, told) = Self.publishReply(reply, knownEpoch: memo.epoch) else {
                    completion(.failure(link.unavailable(RedisReplyError(message: "unexpected reply to a publish"))))
                    return
                }
                (seq, epoch) = (value, told)
            case .failure(let error):
                completion(.failure(link.unavailable(error)))
                return
            }
            self.published.published(to: name, epoch: epoch, refreshedAt: refresh || memo.epoch != epoch ? now : nil)
            link.unreportedPublishes += 1
            guard self.settings.waitReplicas > 0 else {
                completion(.success(seq))
                return
            }
            self.awaitReplicas(seq, on: link, completion: completion)
        }
    }

    /// The seq and epoch of a publish script's reply: `seq` when the node
    /// named the right epoch, `[seq, epoch]` otherwise.
    static func publishReply(_ reply: RESPValue, knownEpoch: UInt64?) -> (seq: UInt64, epoch: UInt64)? {
        switch reply {
        case .integer(let seq) where seq > 0:
            return knownEpoch.map { (UInt64(seq), $0) }
        case .array(let parts?) where parts.count == 2:
            guard let seq = parts[0].integer, seq > 0, let bytes = parts[1].bytes?.readableBytesView,
                let epoch = UInt64(decimal: bytes)
            else { return nil }
            return (UInt64(seq), epoch)
        default:
            return nil
        }
    }

    /// `redis_wait`: acknowledges the publish only once `waitReplicas`
    /// replicas have it (WAIT, sent after the script ran, covers it), so a
    /// failover cannot lose it.
    private func awaitReplicas(
        _ seq: UInt64,
        on link: RedisShardLink,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    ) {
        let wanted = Int64(self.settings.waitReplicas)
        let command = RESPCommand("WAIT", [.integer(wanted), .integer(self.settings.waitTimeoutMillis)])
        link.commands.send(command) { result in
            switch result {
            case .success(.integer(let replicas)) where replicas >= wanted:
                completion(.success(seq))
            case .success(.integer(let replicas)):
                let reason = "only \(replicas) of \(wanted) replicas confirmed the publish in time"
                completion(.failure(link.unavailable(RedisReplyError(message: reason))))
            case .success(let other):
                completion(.failure(link.unavailable(RedisReplyError(message: "unexpected reply to WAIT: \(other)"))))
            case .failure(let error):
                completion(.failure(link.unavailable(error)))
            }
        }
    }
}
