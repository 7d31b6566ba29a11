import NIOCore
import RiverCore

/// One `/stats/stream` connection: the dashboard's samples as Server-Sent
/// Events (`event: sample`), the kept history first, then one a second.
///
/// It never queues: a sample that finds the connection over its high-water
/// mark is skipped, so a client that does not read costs at most what the
/// socket holds; one that has not taken a sample for `stallTicks` seconds
/// is cut. Each stream holds one of `max_stats_streams` places, given back
/// exactly once however it ends. Confined to its connection's loop.
final class StatsStream {
    /// Seconds without a sample written before a stream is cut.
    static let stallTicks: UInt64 = 30

    unowned let loop: ServerLoop
    private(set) var output: StreamOutput?
    /// Its place under `max_stats_streams`.
    private var place: ConnectionSlot?
    /// The loop's tick when a sample was last written (or the stream started).
    private var lastWriteTick: UInt64
    private var isListed = false

    init(loop: ServerLoop, place: consuming ConnectionSlot, output: StreamOutput) {
        self.loop = loop
        self.place = .some(place)
        self.output = output
        self.lastWriteTick = loop.tick
    }

    /// Writes the response head and `history`, then takes every sample.
    func start(history: [ByteBuffer]) {
        guard let output = self.output, !self.isListed else { return }
        output.streamWillStart()
        for event in history { output.write(event) }
        output.flush()
        self.loop.statsStreams.append(self)
        self.isListed = true
        self.loop.lifetimeObserver?.track(self)
    }

    /// One sample: written if the connection takes it, else skipped.
    func write(_ event: ByteBuffer) {
        guard self.isListed, let output = self.output, output.isWritable else { return }
        output.write(event)
        output.flush()
        self.lastWriteTick = self.loop.tick
    }

    /// Once a second: cuts a stream whose reader has taken nothing for `stallTicks`.
    func tick(_ tick: UInt64) {
        guard let output = self.output, tick &- self.lastWriteTick >= Self.stallTicks else { return }
        output.recordCut(.slowConsumer, transport: "stats stream", detail: "took no sample for \(Self.stallTicks) s")
        self.end(.cut)
    }

    /// Shutdown: the stream ends (an event stream ends with its connection;
    /// one whose history had not come yet closes without an answer).
    func finish() {
        self.end(.completed(reusable: false))
    }

    /// The connection closed: write nothing more.
    func detach() {
        self.leave()
        self.output = nil
    }

    private func end(_ end: StreamEnd) {
        guard let output = self.output else { return }
        self.leave()
        self.output = nil
        output.streamDidEnd(end)
    }

    private func leave() {
        self.place.take()?.release()
        guard self.isListed else { return }
        self.isListed = false
        self.loop.statsStreams.removeAll { $0 === self }
    }
}

@available(*, unavailable)
extension StatsStream: Sendable {}
