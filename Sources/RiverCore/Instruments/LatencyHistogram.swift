import NIOCore

/// Durations counted in fixed buckets (the Prometheus histogram's shape):
/// recording is a few comparisons and an increment, the memory is constant,
/// and two histograms subtract, so a window's quantiles come from the
/// difference of two snapshots.
public struct LatencyHistogram: Sendable, Equatable {
    /// The buckets' upper bounds in nanoseconds, 25 µs to 10 s; above the last is the overflow bucket.
    public static let bounds: [Int64] = [
        25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
    ]

    /// Observations per bucket (not cumulative); the last is above every bound.
    public private(set) var counts: [UInt64]
    /// The sum of every observation, in nanoseconds.
    public private(set) var sumNanoseconds: UInt64 = 0

    public init() {
        self.counts = Array(repeating: 0, count: Self.bounds.count + 1)
    }

    public var count: UInt64 { self.counts.reduce(0, &+) }

    /// Counts one duration (negative ones as zero).
    public mutating func record(_ duration: TimeAmount) {
        let nanoseconds = max(duration.nanoseconds, 0)
        var bucket = 0
        while bucket < Self.bounds.count && nanoseconds > Self.bounds[bucket] { bucket += 1 }
        self.counts[bucket] &+= 1
        self.sumNanoseconds &+= UInt64(nanoseconds)
    }

    /// Adds another histogram's observations.
    public mutating func add(_ other: LatencyHistogram) {
        for index in self.counts.indices { self.counts[index] &+= other.counts[index] }
        self.sumNanoseconds &+= other.sumNanoseconds
    }

    /// What was recorded since `earlier` (a snapshot of this histogram).
    public func subtracting(_ earlier: LatencyHistogram) -> LatencyHistogram {
        var difference = self
        for index in difference.counts.indices { difference.counts[index] &-= earlier.counts[index] }
        difference.sumNanoseconds &-= earlier.sumNanoseconds
        return difference
    }

    /// The `quantile` (0...1) in nanoseconds, interpolated inside its bucket;
    /// nil when empty. In the overflow bucket it is the last bound.
    public func quantile(_ quantile: Double) -> Int64? {
        let total = self.count
        guard total > 0 else { return nil }
        let rank = max(1, (min(max(quantile, 0), 1) * Double(total)).rounded(.up))
        var seen = 0.0
        for (bucket, count) in self.counts.enumerated() where count > 0 {
            let before = seen
            seen += Double(count)
            guard seen >= rank else { continue }
            guard bucket < Self.bounds.count else { return Self.bounds[Self.bounds.count - 1] }
            let lower = bucket == 0 ? 0.0 : Double(Self.bounds[bucket - 1])
            let upper = Double(Self.bounds[bucket])
            return Int64(lower + (upper - lower) * (rank - before) / Double(count))
        }
        return Self.bounds[Self.bounds.count - 1]
    }
}
