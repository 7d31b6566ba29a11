import NIOCore
import RiverCore

/// A connection the loop keeps track of: swept for timeouts once a second and
/// told to wind down at shutdown.
protocol ManagedConnection: AnyObject {
    /// Its position in the loop's list; maintained by `ServerLoop`.
    var registryIndex: Int { get set }
    /// Writes out what was queued during this loop tick.
    func flushQueuedWrites()
    /// Called once per tick (a second); closes the connection if it overstayed.
    func sweep(tick: UInt64)
    /// Shutdown: end streams cleanly, finish the current response, then close.
    func quiesce()
    /// Shutdown's deadline passed: close now.
    func terminate()
}

/// What one event loop owns besides its channels' subscribers: its hub, its
/// open connections, a coarse clock for timeouts and its counters. Confined to
/// its loop, so nothing here needs a lock.
final class ServerLoop {
    let hub: LoopHub
    let engine: Engine
    let configuration: RiverConfiguration
    /// The configuration's timeouts in ticks, computed once.
    let timeouts: ConnectionTimeouts
    /// Told of every handler and subscriber made (tests; nil in production).
    let lifetimeObserver: LifetimeObserver?
    /// Seconds since the server started, advanced by the sweeper. Timeouts are
    /// measured in ticks, so no connection reads the clock per request.
    private(set) var tick: UInt64 = 0
    /// Open connections; each knows its index, so removal is a swap, and the
    /// list costs a pointer pair per connection.
    private var connections: [ManagedConnection] = []
    /// Where the sweep of the current tick has got to.
    private var sweepPosition = 0
    private var isSweeping = false
    private(set) var isQuiescing = false
    var counters = LoopCounters()
    /// Connections ended for cause: counts by reason and the last few (`/stats`, the dashboard).
    let cuts = ConnectionCuts()
    /// The connections of each verified user and each token with a `jti`, for
    /// `/users/U/disconnect` and `/tokens/revoke`.
    let verified: VerifiedConnections
    /// The node's revoked tokens, which a revocation from another node adds to.
    private let revokedTokens: RevokedTokens
    /// Connections with responses written during this tick, flushed together at its end.
    private var toFlush: [ManagedConnection] = []

    /// Runs this loop's share of Swift concurrency work (token checks).
    let taskExecutor: EventLoopTaskExecutor
    /// Event-loop lag and the busiest publishers, when the dashboard is on.
    let instruments: LoopInstruments?
    /// The `/stats/stream` connections on this loop, which each dashboard sample is written to.
    var statsStreams: [StatsStream] = []

    /// Connections visited per slice of a sweep: a slice takes tens of
    /// microseconds, then the loop serves I/O before the next.
    static let sweepSliceSize = 512
    private static let sweepYield = TimeAmount.microseconds(20)

    init(
        hub: LoopHub,
        engine: Engine,
        configuration: RiverConfiguration,
        revokedTokens: RevokedTokens,
        lifetimeObserver: LifetimeObserver?
    ) {
        self.hub = hub
        self.engine = engine
        self.configuration = configuration
        self.timeouts = ConnectionTimeouts(configuration)
        self.lifetimeObserver = lifetimeObserver
        self.revokedTokens = revokedTokens
        self.verified = VerifiedConnections(revokedTokens: revokedTokens, cuts: self.cuts)
        self.taskExecutor = EventLoopTaskExecutor(hub.eventLoop)
        self.instruments = configuration.dashboard ? LoopInstruments() : nil
        if configuration.dashboard {
            hub.instruments = HubInstruments(trackedChannels: LoopInstruments.trackedChannels)
        }
        hub.ordersTaker = { [unowned self] order in self.carryOut(order) }
    }

    var eventLoop: EventLoop { self.hub.eventLoop }
    var openConnections: Int { self.connections.count }

    /// Whole ticks (seconds) in `amount`, rounded up, at least one.
    static func ticks(_ amount: TimeAmount) -> UInt64 {
        UInt64(max((amount.nanoseconds + 999_999_999) / 1_000_000_000, 1))
    }

    func register(_ connection: ManagedConnection) {
        connection.registryIndex = self.connections.count
        self.connections.append(connection)
    }

    func unregister(_ connection: ManagedConnection) {
        let index = connection.registryIndex
        guard index >= 0, index < self.connections.count, self.connections[index] === connection else { return }
        let last = self.connections.removeLast()
        if index < self.connections.count {
            self.connections[index] = last
            last.registryIndex = index
        }
        connection.registryIndex = -1
        if self.connections.isEmpty && self.connections.capacity > 1024 {
            self.connections = []  // give back a past peak's list
        }
    }

    /// Queues a connection's flush for the end of this tick. Every response of
    /// one poll goes out in one burst of writes, so a client waiting on many
    /// connections is woken once per burst rather than once per response.
    func flushAtEndOfTick(_ connection: ManagedConnection) {
        if self.toFlush.isEmpty {
            let context = NIOLoopBound(self, eventLoop: self.eventLoop)
            self.eventLoop.execute { context.value.flushQueued() }
        }
        self.toFlush.append(connection)
    }

    private func flushQueued() {
        let connections = self.toFlush
        self.toFlush.removeAll(keepingCapacity: true)
        for connection in connections {
            connection.flushQueuedWrites()
        }
    }

    /// Advances the clock and lets every connection check its deadlines, a
    /// slice at a time so a loop with many connections never stalls on it.
    func sweep() {
        self.tick += 1
        self.sweepPosition = 0
        guard !self.isSweeping else { return }  // the previous sweep's slices restart from the top
        self.isSweeping = true
        self.sweepSlice()
    }

    private func sweepSlice() {
        let end = min(self.sweepPosition + Self.sweepSliceSize, self.connections.count)
        while self.sweepPosition < end && self.sweepPosition < self.connections.count {
            let connection = self.connections[self.sweepPosition]
            connection.sweep(tick: self.tick)
            // A connection that closed was replaced by the last one: visit that one next.
            if self.sweepPosition < self.connections.count && self.connections[self.sweepPosition] === connection {
                self.sweepPosition += 1
            }
        }
        if self.sweepPosition < self.connections.count {
            _ = try? self.eventLoop.assumeIsolated().scheduleCallback(in: Self.sweepYield, handler: self)
        } else {
            self.isSweeping = false
        }
    }

    /// Starts a graceful shutdown of every connection on this loop.
    func quiesce() {
        self.isQuiescing = true
        for connection in self.connections {
            connection.quiesce()
        }
    }

    /// Carries out `order` on this loop (it came from this node or another); how many
    /// connections it closed. A revocation the list has no room for still closes them.
    func carryOut(_ order: NodeOrder) -> Int {
        switch order {
        case .disconnectUser(let user):
            return self.verified.disconnect(.user(user))
        case .revokeToken(let id, let until):
            _ = self.revokedTokens.revoke(id, until: until, now: WallClock.nowMillis() / 1000)
            return self.verified.disconnect(.token(id))
        }
    }

    /// Closes every connection still open.
    func terminate() {
        for connection in self.connections {
            connection.terminate()
        }
    }
}

extension ServerLoop: NIOScheduledCallbackHandler {
    /// The next slice of the tick's sweep.
    func handleScheduledCallback(eventLoop: some EventLoop) {
        self.sweepSlice()
    }
}

/// The configuration's timeouts, in ticks of the loop's clock (seconds).
struct ConnectionTimeouts {
    /// `read_timeout`: a request must arrive completely within it (the first one counted from accept).
    let readTicks: UInt64
    /// `keepalive_timeout`: how long a connection may wait idle for its next request.
    let keepAliveTicks: UInt64
    /// `client_timeout`: streams end after it (nil: never).
    let clientTicks: UInt64?
    /// `heartbeat`: quiet streams get their framing's heartbeat after it (nil: never).
    let heartbeatTicks: UInt64?

    init(_ configuration: RiverConfiguration) {
        self.readTicks = ServerLoop.ticks(configuration.readTimeout)
        self.keepAliveTicks = ServerLoop.ticks(configuration.keepAliveTimeout)
        self.clientTicks = configuration.clientTimeout.map(ServerLoop.ticks)
        self.heartbeatTicks = configuration.heartbeat.map(ServerLoop.ticks)
    }

    init(readTicks: UInt64, keepAliveTicks: UInt64, clientTicks: UInt64? = nil, heartbeatTicks: UInt64? = nil) {
        self.readTicks = readTicks
        self.keepAliveTicks = keepAliveTicks
        self.clientTicks = clientTicks
        self.heartbeatTicks = heartbeatTicks
    }
}

/// Per-loop counters, summed across loops for `/stats` and `/metrics`.
struct LoopCounters: Sendable {
    var connectionsAccepted = 0
    var connectionsRejected = 0
    var requests = 0
    var badRequests = 0
    var publishes = 0
    var slowConsumersCut = 0
    /// Open subscriptions by transport.
    var openStreams = 0
    var openLongPolls = 0
    var openEventStreams = 0
    var webSocketConnections = 0
    /// Open HTTP/2 connections, and the streams open on them.
    var http2Connections = 0
    var http2Streams = 0
    /// Subscriptions that started with retained messages to replay, and the notices sent
    /// to those that resumed from what is no longer there.
    var catchUps = 0
    var lostNotices = 0
    var resetNotices = 0

    mutating func add(_ other: LoopCounters) {
        self.connectionsAccepted += other.connectionsAccepted
        self.connectionsRejected += other.connectionsRejected
        self.requests += other.requests
        self.badRequests += other.badRequests
        self.publishes += other.publishes
        self.slowConsumersCut += other.slowConsumersCut
        self.openStreams += other.openStreams
        self.openLongPolls += other.openLongPolls
        self.openEventStreams += other.openEventStreams
        self.webSocketConnections += other.webSocketConnections
        self.http2Connections += other.http2Connections
        self.http2Streams += other.http2Streams
        self.catchUps += other.catchUps
        self.lostNotices += other.lostNotices
        self.resetNotices += other.resetNotices
    }
}

@available(*, unavailable)
extension ServerLoop: Sendable {}
