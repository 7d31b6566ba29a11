import NIOCore

/// SEAM 1: where channels live — sequence numbers, history, and who on which
/// event loop listens. Transports talk to an engine; engines never format bytes.
///
/// Every future completes on the event loop the call names, and fails only
/// with an `EngineError`: whatever goes wrong below an engine (a Redis shard
/// that cannot be reached, an error reply, a reply it cannot read) it turns
/// into `EngineError.unavailable` naming the part that failed, so the server
/// answers 503 for it (`RequestError.engineFailure`) and a 500 means a defect.
///
/// Ordering contract for `subscribe`: the future completes on the hub's loop
/// before any live batch holding a message with seq greater than
/// `SubscribeResult.catchUp.lastSeq` reaches that hub, so a subscriber
/// registered in the completion callback misses nothing and, filtering by
/// seq, sees nothing twice.
public protocol Engine: AnyObject, Sendable {
    /// A short name for logs ("memory", "redis").
    var name: String { get }

    /// Assigns the next seq, stores the message in history and fans it out.
    /// Calls `completion` on `loop` with the seq once the message is stored
    /// (never after fan-out), synchronously when the channel lives on `loop`:
    /// the hot path allocates no future.
    func publish(
        _ payload: ByteBuffer,
        isBinary: Bool,
        to channel: ChannelName,
        on loop: EventLoop,
        completion: @escaping @Sendable (Result<UInt64, EngineError>) -> Void
    )

    /// Registers interest of hub `hubIndex` in a channel and returns what to
    /// send first for `point` (notices, and everything after its seq). The
    /// subscription counts in the channel's presence, as `member` when it has one.
    func subscribe(
        to channel: ChannelName,
        from point: ResumePoint,
        hubIndex: Int,
        member: PresenceMember?
    ) -> EventLoopFuture<SubscribeResult>

    /// Withdraws one subscriber's interest, and its presence (fire and forget).
    func unsubscribe(_ interest: Interest)

    /// Who is on a channel: its subscriptions, users, and at most `limit` members.
    func presence(of channel: ChannelName, limit: Int, on loop: EventLoop) -> EventLoopFuture<PresenceSnapshot>

    /// Channel facts, or nil when the channel does not exist.
    func info(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<ChannelInfo?>

    /// Up to `limit` channel names starting with `prefix` and sorting after
    /// `after`, in order: one page of the channel listing.
    func list(prefix: String, after: String?, limit: Int, on loop: EventLoop) -> EventLoopFuture<[ChannelName]>

    /// Drops a channel's history and ends its subscribers' streams. True when it existed.
    func delete(_ channel: ChannelName, on loop: EventLoop) -> EventLoopFuture<Bool>

    /// Engine-wide figures for `/stats`.
    func statistics(on loop: EventLoop) -> EventLoopFuture<EngineStatistics>

    /// Presence members held on this node (`PresenceTally`): with Redis, this node's share.
    var presenceMembers: Int { get }

    /// Has every other node sharing this engine carry out `order` (each hub's `carryOut`
    /// there), and says how many connections they ended: `/users/U/disconnect`,
    /// `/tokens/revoke`.
    func tellOtherNodes(_ order: NodeOrder, on loop: EventLoop) -> EventLoopFuture<Int>

    /// Shares this node's dashboard heartbeat (a small JSON object) with the other nodes
    /// sharing this engine, and returns the latest heartbeat of every node, this one's included.
    func exchangeHeartbeat(_ heartbeat: ByteBuffer, on loop: EventLoop) -> EventLoopFuture<[ByteBuffer]>

    /// Stops background work (reapers, connections). Called once, at shutdown.
    func shutdown() async
}

extension Engine {
    /// An engine of one node has no other node: its own heartbeat is all there is.
    public func exchangeHeartbeat(_ heartbeat: ByteBuffer, on loop: EventLoop) -> EventLoopFuture<[ByteBuffer]> {
        loop.makeSucceededFuture([heartbeat])
    }

    /// An engine of one node has no other node: nobody else to tell.
    public func tellOtherNodes(_ order: NodeOrder, on loop: EventLoop) -> EventLoopFuture<Int> {
        loop.makeSucceededFuture(0)
    }

    /// Subscribes without a presence member (an anonymous subscription still counts).
    public func subscribe(
        to channel: ChannelName,
        from point: ResumePoint,
        hubIndex: Int
    )
        -> EventLoopFuture<SubscribeResult>
    {
        self.subscribe(to: channel, from: point, hubIndex: hubIndex, member: nil)
    }

    /// `publish` as a future, for callers off the hot path.
    public func publish(
        _ payload: ByteBuffer,
        isBinary: Bool = false,
        to channel: ChannelName,
        on loop: EventLoop
    ) -> EventLoopFuture<UInt64> {
        let promise = loop.makePromise(of: UInt64.self)
        self.publish(payload, isBinary: isBinary, to: channel, on: loop) { result in
            promise.completeWith(result.mapError { $0 as Error })
        }
        return promise.futureResult
    }
}

/// A registered interest, handed back to `unsubscribe`. Small on purpose:
/// every subscriber keeps one for as long as it lives.
public struct Interest: Sendable {
    public let channel: ChannelName
    public let hubIndex: Int
    /// Identifies the channel incarnation the interest was registered with.
    public let token: UInt64
    /// Who subscribed, for presence (nil: anonymous).
    public let member: PresenceMember?

    public init(channel: ChannelName, hubIndex: Int, token: UInt64, member: PresenceMember? = nil) {
        self.channel = channel
        self.hubIndex = hubIndex
        self.token = token
        self.member = member
    }
}

/// What `subscribe` answers: the interest, and what to replay before going live.
public struct SubscribeResult: Sendable {
    public let interest: Interest
    public let catchUp: CatchUp

    public init(interest: Interest, catchUp: CatchUp) {
        self.interest = interest
        self.catchUp = catchUp
    }
}

/// What `GET /channels/NAME` reports.
public struct ChannelInfo: Sendable, Equatable {
    public var channel: ChannelName
    public var seq: UInt64
    public var subscribers: Int
    public var history: Int
    public var firstSeq: UInt64?
    /// Unix time in milliseconds of the last publish, if any.
    public var lastPublishMillis: Int64?

    public init(
        channel: ChannelName,
        seq: UInt64,
        subscribers: Int,
        history: Int,
        firstSeq: UInt64?,
        lastPublishMillis: Int64?
    ) {
        self.channel = channel
        self.seq = seq
        self.subscribers = subscribers
        self.history = history
        self.firstSeq = firstSeq
        self.lastPublishMillis = lastPublishMillis
    }
}

/// Engine-wide figures. With shards, the sum over the shards that answered;
/// those that did not are listed in `unavailableShards` (their figures are
/// missing from the sums), so `/stats` still answers while one is down.
public struct EngineStatistics: Sendable, Equatable {
    public var channels: Int = 0
    public var messagesPublished: Int = 0
    public var historyMessages: Int = 0
    public var historyBytes: Int = 0
    public var messagesExpired: Int = 0
    public var messagesEvicted: Int = 0
    public var channelsReclaimed: Int = 0
    /// The shards that did not answer, in shard order (none for the memory engine).
    public var unavailableShards: [UnavailableShard] = []
    /// Each Redis shard's health, in shard order (none for the memory engine).
    public var shards: [ShardHealth] = []

    public init() {}

    public static func + (lhs: EngineStatistics, rhs: EngineStatistics) -> EngineStatistics {
        var sum = EngineStatistics()
        sum.channels = lhs.channels + rhs.channels
        sum.messagesPublished = lhs.messagesPublished + rhs.messagesPublished
        sum.historyMessages = lhs.historyMessages + rhs.historyMessages
        sum.historyBytes = lhs.historyBytes + rhs.historyBytes
        sum.messagesExpired = lhs.messagesExpired + rhs.messagesExpired
        sum.messagesEvicted = lhs.messagesEvicted + rhs.messagesEvicted
        sum.channelsReclaimed = lhs.channelsReclaimed + rhs.channelsReclaimed
        sum.unavailableShards = lhs.unavailableShards + rhs.unavailableShards
        sum.shards = lhs.shards + rhs.shards
        return sum
    }
}

/// How one Redis shard is doing, as `/stats` found it.
public struct ShardHealth: Sendable, Equatable {
    /// Its place in the configured list of shards, counting from 1.
    public var number: Int
    /// The round trip of the statistics' own command, in microseconds; nil when it did not answer.
    public var latencyMicros: Int?
    /// How many times River's connections to it were made again after one was lost (every loop's, both kinds).
    public var reconnects: Int
    /// It did not answer, and Sentinel says its master is down and being failed over.
    public var isSwitching: Bool

    public init(number: Int, latencyMicros: Int?, reconnects: Int = 0, isSwitching: Bool = false) {
        self.number = number
        self.latencyMicros = latencyMicros
        self.reconnects = reconnects
        self.isSwitching = isSwitching
    }

    /// `up` (it answered), `switching` (Sentinel is failing it over) or `down`.
    public var state: String { self.latencyMicros != nil ? "up" : self.isSwitching ? "switching" : "down" }
}

/// A shard whose figures are missing from `EngineStatistics`, and why.
public struct UnavailableShard: Sendable, Equatable {
    /// Its place in the configured list of shards, counting from 1.
    public var number: Int
    /// Where it is (`redis://HOST:PORT`, or the Sentinel master's name); never a password.
    public var location: String
    /// Why it did not answer, in one line.
    public var reason: String

    public init(number: Int, location: String, reason: String) {
        self.number = number
        self.location = location
        self.reason = reason
    }
}
