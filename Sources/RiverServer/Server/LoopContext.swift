import NIOCore
import RiverCore

/// A connection the loop keeps track of: swept for timeouts once a second and
/// told to wind down at shutdown.
protocol ManagedConnection: AnyObject {
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
    private var connections: [ObjectIdentifier: ManagedConnection] = [:]
    private(set) var isQuiescing = false
    var counters = LoopCounters()

    init(hub: LoopHub) {
        self.hub = hub
    }

    var eventLoop: EventLoop { self.hub.eventLoop }
    var openConnections: Int { self.connections.count }

    func register(_ connection: ManagedConnection) {
        self.connections[ObjectIdentifier(connection)] = connection
    }

    func unregister(_ connection: ManagedConnection) {
        self.connections[ObjectIdentifier(connection)] = nil
    }

    /// Advances the clock and lets every connection check its deadlines.
    func sweep() {
        self.tick += 1
        for connection in Array(self.connections.values) {
            connection.sweep(tick: self.tick)
        }
    }

    /// Starts a graceful shutdown of every connection on this loop.
    func quiesce() {
        self.isQuiescing = true
        for connection in Array(self.connections.values) {
            connection.quiesce()
        }
    }

    /// Closes every connection still open.
    func terminate() {
        for connection in Array(self.connections.values) {
            connection.terminate()
        }
    }
}

/// Per-loop counters, summed across loops for `/stats`.
struct LoopCounters: Sendable {
    var connectionsAccepted = 0
    var connectionsRejected = 0
    var requests = 0
    var badRequests = 0
    var publishes = 0
    var slowConsumersCut = 0
}

@available(*, unavailable)
extension LoopContext: Sendable {}
