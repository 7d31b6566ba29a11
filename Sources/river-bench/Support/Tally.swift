import Atomics
import Histogram
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// What every client of a run adds to: atomics updated once per read (never
/// once per message), read by the scenario while it waits.
final class Tally: Sendable {
    let received = ManagedAtomic(0)
    /// Bytes subscribers read, framing and handshakes included: what crossed the wire to them.
    let receivedBytes = ManagedAtomic(0)
    let subscribed = ManagedAtomic(0)
    let published = ManagedAtomic(0)
    let failed = ManagedAtomic(0)
    let endedEarly = ManagedAtomic(0)
    /// Connections that got every message they were due (runs that know what each is due).
    let completed = ManagedAtomic(0)
    /// Messages beyond what their connection was due: duplicates, or messages of channels it never asked for.
    let surplus = ManagedAtomic(0)
    /// Presence events received (`river.v2` watchers).
    let joins = ManagedAtomic(0)
    let leaves = ManagedAtomic(0)
    /// Presence churn: joins that were then left again, both acknowledged.
    let cycles = ManagedAtomic(0)
    let stop = ManagedAtomic(false)

    var isStopped: Bool { self.stop.load(ordering: .relaxed) }
}

/// One connection's deliveries against what it is due: tells the tally once
/// when it has them all, and counts anything beyond as surplus. Without an
/// expectation it counts nothing.
struct DeliveryQuota {
    let expected: Int?
    private(set) var count = 0

    init(expected: Int?) {
        self.expected = expected
    }

    mutating func add(_ messages: Int, to tally: Tally) {
        guard let expected = self.expected, messages > 0 else { return }
        let before = self.count
        self.count += messages
        if before < expected && self.count >= expected {
            tally.completed.wrappingIncrement(ordering: .relaxed)
        }
        let surplus = self.count - max(before, expected)
        if surplus > 0 { tally.surplus.wrappingIncrement(by: surplus, ordering: .relaxed) }
    }
}

/// Publish-to-delivery latency, in microseconds, recorded on one event loop.
/// Publishers put `t=<monotonic nanoseconds>` in each message; subscribers on
/// the same machine subtract it from their own clock.
final class LatencyRecorder {
    private(set) var histogram = Histogram<UInt64>(
        highestTrackableValue: 60_000_000,
        numberOfSignificantValueDigits: .three
    )

    func add(_ other: Histogram<UInt64>) {
        self.histogram.add(other)
    }

    func record(payload: UnsafeRawBufferPointer) {
        guard let sent = Self.timestamp(in: payload) else { return }
        let now = Self.nowNanoseconds()
        _ = self.histogram.record(now > sent ? (now - sent) / 1000 : 0)
    }

    static func nowNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// The digits after the first `t=` in `payload`.
    static func timestamp(in payload: UnsafeRawBufferPointer) -> UInt64? {
        var index = 0
        while index + 2 < payload.count {
            if payload[index] == UInt8(ascii: "t") && payload[index + 1] == UInt8(ascii: "=") {
                var value: UInt64 = 0
                var cursor = index + 2
                while cursor < payload.count, payload[cursor] >= 48, payload[cursor] <= 57 {
                    value = value &* 10 &+ UInt64(payload[cursor] - 48)
                    cursor += 1
                }
                return value
            }
            index += 1
        }
        return nil
    }
}

@available(*, unavailable)
extension LatencyRecorder: Sendable {}
