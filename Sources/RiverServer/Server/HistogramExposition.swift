import RiverCore

/// `LatencyHistogram`s in the Prometheus text format
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): seconds,
/// cumulative `_bucket{le=...}` lines, `_sum` and `_count`. swift-prometheus
/// holds counters and gauges; these are written beside its output because
/// they are kept per loop without locks and summed at scrape time.
enum HistogramExposition {
    /// One histogram family: `help`, then a series per `(labels, histogram)`.
    static func write(
        name: String,
        help: String,
        series: [(labels: String, histogram: LatencyHistogram)],
        into output: inout [UInt8]
    ) {
        guard !series.isEmpty else { return }
        var text = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, histogram) in series {
            let prefix = labels.isEmpty ? "" : labels + ","
            var cumulative: UInt64 = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                cumulative &+= histogram.counts[index]
                text += "\(name)_bucket{\(prefix)le=\"\(Self.seconds(bound))\"} \(cumulative)\n"
            }
            let count = histogram.count
            text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(count)\n"
            let braces = labels.isEmpty ? "" : "{\(labels)}"
            text += "\(name)_sum\(braces) \(Self.seconds(Int64(clamping: histogram.sumNanoseconds)))\n"
            text += "\(name)_count\(braces) \(count)\n"
        }
        output += Array(text.utf8)
    }

    /// Nanoseconds as decimal seconds, exactly (`0.000025`, `2.5`, `10`).
    static func seconds(_ nanoseconds: Int64) -> String {
        let whole = nanoseconds / 1_000_000_000
        var fraction = String(nanoseconds % 1_000_000_000)
        guard fraction != "0" else { return String(whole) }
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(whole).\(fraction)"
    }
}
