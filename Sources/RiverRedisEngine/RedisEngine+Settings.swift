import NIOCore
import RiverCore

/// Where one shard's master is.
public enum RedisShardLocation: Sendable, Equatable, CustomStringConvertible {
    /// A Redis at a fixed address.
    case address(RedisAddress)
    /// The master Sentinel names `master`, asking any of `sentinels`.
    case sentinel(master: String, sentinels: [RedisAddress])

    public var description: String {
        switch self {
        case .address(let address): return "\(address)"
        case .sentinel(let master, _): return "sentinel:\(master)"
        }
    }
}

extension RedisEngine {
    /// What the engine needs to know from the configuration.
    public struct Settings: Sendable {
        /// The shards, in order: every node of a service must list the same ones in the same order.
        public var shards: [RedisShardLocation]
        /// Messages retained per channel (the stream's `MAXLEN ~`; a catch-up never gives more).
        public var historySize: Int
        public var historyTTLMillis: Int64
        /// How long a channel outlives its history.
        public var idleTTLMillis: Int64
        /// How long a node keeps its Redis subscription after its last local subscriber leaves.
        public var linger: TimeAmount
        /// `redis_wait`: replicas that must have a publish before it is acknowledged (0: do not wait).
        public var waitReplicas: Int
        /// How long a publish waits for them before it is answered 503.
        public var waitTimeoutMillis: Int64
        /// A connection on which Redis answers nothing for this long is closed (and reconnected).
        public var replyTimeout: TimeAmount = .seconds(5)
        /// `presence_leave_delay`: how long a user whose last subscription ended stays listed.
        public var presenceLeaveDelay: TimeAmount = .seconds(5)
        /// `presence_ttl`: how long a node's presence outlives the node (it refreshes it well within).
        public var presenceTTL: TimeAmount = .seconds(30)
        /// How long presence changes gather before a loop writes them to Redis (one call per channel).
        public var presenceWriteDelay: TimeAmount = .milliseconds(20)

        public init(
            shards: [RedisShardLocation],
            limits: HistoryLimits,
            linger: TimeAmount = .seconds(5),
            waitReplicas: Int = 0,
            waitTimeout: TimeAmount = .seconds(1)
        ) {
            precondition(!shards.isEmpty, "at least one shard")
            self.shards = shards
            self.historySize = limits.size
            self.historyTTLMillis = max(limits.ttl.nanoseconds / 1_000_000, 1)
            self.idleTTLMillis = max(limits.channelIdleTTL.nanoseconds / 1_000_000, 1)
            self.linger = linger
            self.waitReplicas = waitReplicas
            self.waitTimeoutMillis = max(waitTimeout.nanoseconds / 1_000_000, 1)
        }

        public init(address: RedisAddress, limits: HistoryLimits, linger: TimeAmount = .seconds(5)) {
            self.init(shards: [.address(address)], limits: limits, linger: linger)
        }

        /// How often a loop pushes a channel's expiry forward when it publishes to it.
        var expiryRefreshInterval: TimeAmount { .milliseconds(max(self.historyTTLMillis / 8, 1)) }
        /// The history stream's expiry: the history TTL, plus the refresh interval.
        var historyLifetimeMillis: Int64 { self.historyTTLMillis + self.expiryRefreshInterval.nanoseconds / 1_000_000 }
        /// The meta hash's expiry: it outlives the history by the idle TTL.
        var metaLifetimeMillis: Int64 { self.historyLifetimeMillis + self.idleTTLMillis }
    }
}
