import DequeModule
import NIOCore
import RiverCore

/// The dashboard's clock: once a second, while at least one `/stats/stream`
/// is open, it reads the server (`ServerStatistics` and each loop's window:
/// one hop per loop), turns the difference from the previous reading into a
/// `DashboardSample`, keeps it (the last `dashboard_history` samples, encoded
/// once) and hands it to every loop, whose `StatsStream`s write it.
///
/// Nobody watching, a tick reads one atomic and returns. Confined to the
/// server's first event loop.
final class DashboardSampler {
    /// Samples kept for a page that opens, oldest first, already framed as events.
    private(set) var history: Deque<ByteBuffer> = []
    private let capacity: Int
    private var previous: DashboardReading?
    private var isReading = false

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Once a second, on the first loop.
    func tick(_ server: ServerContext) {
        guard server.statsStreamLimiter.current > 0 else {
            // Rates resume from a fresh reading, never across the pause.
            self.previous = nil
            return
        }
        guard !self.isReading else { return }
        self.isReading = true
        let loop = server.loops[0].eventLoop
        let windows = server.loops.map { box in
            box.eventLoop.submit { DashboardReading.window(of: box.value, channels: DashboardSample.topChannels) }
        }
        let sampler = NIOLoopBound(self, eventLoop: loop)
        ServerStatistics.collect(server, on: loop)
            .and(EventLoopFuture.whenAllSucceed(windows, on: loop))
            .whenComplete { result in
                let sampler = sampler.value
                sampler.isReading = false
                guard case .success(let (statistics, windows)) = result else { return }
                let reading = DashboardReading(
                    statistics: statistics,
                    windows: windows,
                    at: loop.now,
                    wallMillis: WallClock.nowMillis(),
                    residentBytes: ResidentMemory.bytes()
                )
                sampler.record(reading, server)
            }
    }

    private func record(_ reading: DashboardReading, _ server: ServerContext) {
        defer { self.previous = reading }
        guard let previous = self.previous else { return }
        let event = DashboardSample.event(from: previous, to: reading, configuration: server.configuration)
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
