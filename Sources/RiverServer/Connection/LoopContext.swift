import NIOCore
import RiverCore

/// A connection the loop keeps track of: swept for timeouts once a second and
/// told to wind down at shutdown.
protocol ManagedConnection: AnyObject {
    /// Its position in the loop's list; maintained by `LoopContext`.
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
final class LoopContext {
    let hub: LoopHub
    /// Seconds since the server started, advanced by the sweeper. Timeouts are
    /// measured in ticks, so no connection reads the clock per request.
    private(set) var tick: UInt64 = 0
    /// Open connections; each knows its index, so removal is a swap, and the
    /// list costs a pointer pair per connection.
    private var connections: [ManagedConnection] = []
    private(set) var isQuiescing = false
    var counters = LoopCounters()
    /// Connections with responses written during this tick, flushed together at its end.
    private var toFlush: [ManagedConnection] = []

    /// Runs this loop's share of Swift concurrency work (token checks).
    let taskExecutor: EventLoopTaskExecutor

    init(hub: LoopHub) {
        self.hub = hub
        self.taskExecutor = EventLoopTaskExecutor(hub.eventLoop)
    }

    var eventLoop: EventLoop { self.hub.eventLoop }
    var openConnections: Int { self.connections.count }

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

    /// Advances the clock and lets every connection check its deadlines.
    func sweep() {
        self.tick += 1
        for connection in self.connections {
            connection.sweep(tick: self.tick)
        }
    }

    /// Starts a graceful shutdown of every connection on this loop.
    func quiesce() {
        self.isQuiescing = true
        for connection in self.connections {
            connection.quiesce()
        }
    }

    /// Closes every connection still open.
    func terminate() {
        for connection in self.connections {
            connection.terminate()
        }
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
    }
}

@available(*, unavailable)
extension LoopContext: Sendable {}
