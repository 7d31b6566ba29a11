import DequeModule
import NIOCore
import RiverCore

/// What one node knows of a channel it follows in Redis: its local
/// subscribers per event loop, whether the node's pub/sub subscription is
/// up, and the position of the live feed it forwards to its hubs — which
/// must go out in seq order, without gaps or duplicates. Confined to the
/// channel's home event loop (its `RedisChannelStore`).
final class RemoteChannel {
    enum SubscriptionState {
        case none
        case pending(EventLoopFuture<Void>)
        case active
    }

    let name: ChannelName
    /// The shard holding the channel.
    let shard: Int
    /// Tells this incarnation of the state from a later one of the same name.
    let token: UInt64
    var subscribersPerHub: [Int]
    var subscriberTotal = 0
    /// This node's share of the channel's presence.
    var presence = ChannelPresence()
    /// Members whose subscriptions here changed since the share was last written to Redis, in order.
    var presenceChanges: [PresenceMember] = []
    var presenceChangeSet: Set<PresenceMember> = []
    /// Waiting in the store's queue of shares to write.
    var isPresenceQueued = false
    /// Since when nobody here subscribes (the Redis subscription lingers a while).
    var idleSince: NIODeadline?
    var subscription = SubscriptionState.none

    /// The incarnation the feed follows; nil until the first catch-up names it.
    var epoch: UInt64?
    /// The last seq handed to the hubs.
    var lastForwarded: UInt64 = 0
    /// The latest forwarded messages, to hand to a subscriber whose catch-up
    /// was read just before them.
    var recent: Deque<Message> = []
    /// Live messages that arrived ahead of a gap (or before the epoch was known), by seq.
    var parked: [UInt64: (epoch: UInt64, message: Message)] = [:]
    var isFillingGap = false
    /// Messages may have been published while the node was not listening (a
    /// lost connection): read the history after `lastForwarded` as soon as possible.
    var needsRefill = false

    static let recentLimit = 1024
    static let parkedLimit = 65536

    init(name: ChannelName, shard: Int, token: UInt64, hubCount: Int) {
        self.name = name
        self.shard = shard
        self.token = token
        self.subscribersPerHub = Array(repeating: 0, count: hubCount)
    }

    /// Notes that `member`'s subscriptions here changed (nil: an anonymous one).
    func presenceChanged(_ member: PresenceMember?) {
        guard let member, self.presenceChangeSet.insert(member).inserted else { return }
        self.presenceChanges.append(member)
    }

    /// Takes the noted changes, to write them.
    func takePresenceChanges() -> [PresenceMember] {
        defer {
            self.presenceChanges = []
            self.presenceChangeSet = []
        }
        return self.presenceChanges
    }

    /// Starts following `epoch` after `seq`, forgetting the old feed.
    func follow(epoch: UInt64, after seq: UInt64) {
        self.epoch = epoch
        self.lastForwarded = seq
        self.recent.removeAll()
        self.parked = self.parked.filter { $0.value.epoch == epoch && $0.key > seq }
    }

    /// Notes a message as forwarded.
    func forwarded(_ message: Message) {
        self.lastForwarded = message.seq
        self.recent.append(message)
        if self.recent.count > Self.recentLimit { self.recent.removeFirst() }
    }

    /// The forwarded messages after `seq`, if `recent` still holds all of them.
    func forwarded(after seq: UInt64) -> [Message]? {
        guard seq < self.lastForwarded else { return [] }
        guard let first = self.recent.first, first.seq <= seq + 1 else { return nil }
        return self.recent.filter { $0.seq > seq }
    }
}

@available(*, unavailable)
extension RemoteChannel: Sendable {}
