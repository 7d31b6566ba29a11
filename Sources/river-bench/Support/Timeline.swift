import Foundation

/// A run's figures over time, for charts: counters and levels sampled while
/// the run goes (every `interval`, and once more at its end), written into the
/// JSON report as `series` and drawn by `river-bench report`.
///
/// A counter only grows (deliveries, publishes, connections) and is written
/// as its rate over each interval (`deliveries_per_second`); a level is
/// written as read (`rss_bytes`). Past `maximumSamples` every other sample is
/// dropped — counters are cumulative, so the rates of the merged intervals
/// stay exact — and a long run keeps a bounded line in its report.
struct Timeline {
    /// How a column's samples read.
    enum Kind {
        /// A cumulative count, reported as a rate per second.
        case counter
        /// A value reported as read.
        case level
    }

    /// One sampled figure.
    struct Column {
        let name: String
        let kind: Kind
        /// Counters: the count since the start of the run; levels: the value.
        fileprivate(set) var values: [Double] = []
    }

    /// How often a wait samples its counter.
    static let interval = Duration.milliseconds(100)
    static let maximumSamples = 600

    /// When each sample was taken, in seconds since the start of the run.
    private(set) var seconds: [Double] = []
    private(set) var columns: [Column]

    init(_ columns: [(name: String, kind: Kind)]) {
        self.columns = columns.map { Column(name: $0.name, kind: $0.kind) }
    }

    /// A timeline of one counter.
    init(counting name: String) {
        self.init([(name, .counter)])
    }

    var isEmpty: Bool { self.seconds.isEmpty }

    /// Adds a sample taken `seconds` after the start: one value per column, in
    /// order. (The start itself is the counters' origin, not a sample.)
    mutating func append(at seconds: Double, _ values: [Double]) {
        precondition(
            values.count == self.columns.count,
            "a sample of \(values.count) for \(self.columns.count) columns"
        )
        guard seconds > (self.seconds.last ?? 0) else { return }
        self.seconds.append(seconds)
        for index in self.columns.indices { self.columns[index].values.append(values[index]) }
        if self.seconds.count > Self.maximumSamples { self.thin() }
    }

    /// The rates of a counter over each interval (the first one from the start of the run).
    func rates(of column: Column) -> [Double] {
        var rates: [Double] = []
        var previous = (seconds: 0.0, count: 0.0)
        for (seconds, count) in zip(self.seconds, column.values) {
            let span = seconds - previous.seconds
            rates.append(span > 0 ? (count - previous.count) / span : 0)
            previous = (seconds, count)
        }
        return rates
    }

    /// The `series` object of the JSON report: `seconds`, then each column (counters as `NAME_per_second`).
    var json: String {
        var members = ["\"seconds\": " + Self.array(self.seconds, format: "%.3f")]
        for column in self.columns {
            switch column.kind {
            case .counter:
                members.append("\"\(column.name)_per_second\": " + Self.array(self.rates(of: column), format: "%.1f"))
            case .level:
                members.append("\"\(column.name)\": " + Self.array(column.values, format: "%.0f"))
            }
        }
        return "{" + members.joined(separator: ", ") + "}"
    }

    /// Keeps every other sample, always the last one.
    private mutating func thin() {
        let keep = self.seconds.indices.filter { (self.seconds.count - 1 - $0) % 2 == 0 }
        self.seconds = keep.map { self.seconds[$0] }
        for index in self.columns.indices {
            let values = self.columns[index].values
            self.columns[index].values = keep.map { values[$0] }
        }
    }

    private static func array(_ values: [Double], format: String) -> String {
        "[" + values.map { String(format: format, $0) }.joined(separator: ", ") + "]"
    }
}
