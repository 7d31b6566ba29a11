import DequeModule
import NIOCore
import RiverCore

/// The dashboard's clock: once a second, while at least one `/stats/stream`
/// is open, it reads the server (`ServerStatistics` and each loop's window:
/// one hop per loop), turns the difference from the previous reading into a
/// `DashboardSample`, keeps it (the last `dashboard_history` samples, encoded
/// once) and hands it to every loop, whose `StatsStream`s write it.
///
/// Nobody watching, a tick reads one atomic and returns — with the Redis
/// engine, after sending the node's heartbeat (`NodeHeartbeat`: one hop per
/// loop and one PUBLISH). Confined to the server's first event loop.
final class DashboardSampler {
    /// Samples kept for a page that opens, oldest first, already framed as events.
    private(set) var history: Deque<ByteBuffer> = []
    private let capacity: Int
    private var previous: DashboardReading?
    private var isReading = false
    /// This node's totals at its last heartbeat (`NodeHeartbeat`).
    private var lastFigures: NodeHeartbeat.Figures?

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Once a second, on the first loop. With the Redis engine the node's heartbeat goes
    /// out even when nobody watches here: another node's page may be open.
    func tick(_ server: ServerContext) {
        let watching = server.statsStreamLimiter.current > 0
        // Rates resume from a fresh reading, never across the pause.
        if !watching { self.previous = nil }
        guard watching || server.configuration.engine == .redis, !self.isReading else { return }
        self.isReading = true
        let loop = server.loops[0].eventLoop
        let sampler = NIOLoopBound(self, eventLoop: loop)
        let nodes = NodeHeartbeat.collect(server, on: loop).flatMap { figures in
            let heartbeat = NodeHeartbeat.json(
                figures,
                since: sampler.value.lastFigures,
                residentBytes: ResidentMemory.bytes()
            )
            sampler.value.lastFigures = figures
            return server.engine.exchangeHeartbeat(heartbeat, on: loop).map { $0.compactMap(NodeHeartbeat.checked) }
        }
        guard watching else {
            nodes.whenComplete { _ in sampler.value.isReading = false }
            return
        }
        let windows = server.loops.map { box in
            box.eventLoop.submit { DashboardReading.window(of: box.value, channels: DashboardSample.topChannels) }
        }
        ServerStatistics.collect(server, on: loop)
            .and(EventLoopFuture.whenAllSucceed(windows, on: loop))
            .and(nodes)
            .whenComplete { result in
                let sampler = sampler.value
                sampler.isReading = false
                guard case .success(let ((statistics, windows), nodes)) = result else { return }
                let reading = DashboardReading(
                    statistics: statistics,
                    windows: windows,
                    at: loop.now,
                    wallMillis: WallClock.nowMillis(),
                    residentBytes: ResidentMemory.bytes()
                )
                sampler.record(reading, nodes: nodes, server)
            }
    }

    private func record(_ reading: DashboardReading, nodes: [[UInt8]], _ server: ServerContext) {
        defer { self.previous = reading }
        guard let previous = self.previous else { return }
        let event = DashboardSample.event(
            from: previous,
            to: reading,
            nodes: nodes,
            configuration: server.configuration
        )
        self.history.append(event)
        if self.history.count > self.capacity { self.history.removeFirst() }
        for box in server.loops {
            box.eventLoop.execute { box.value.writeStats(event) }
        }
    }
}

extension ServerLoop {
    /// A dashboard sample for this loop's `/stats/stream` connections.
    func writeStats(_ event: ByteBuffer) {
        // (Writing may end a stream, which removes it from the list: iterate a copy.)
        for stream in self.statsStreams {
            stream.write(event)
        }
    }
}

@available(*, unavailable)
extension DashboardSampler: Sendable {}
