import CoreMetrics
import NIOConcurrencyHelpers
import Prometheus

/// `/metrics` in the Prometheus text format, through swift-metrics and
/// swift-prometheus. The metrics are created once; at each scrape they are
/// brought up to date from a `ServerStatistics` snapshot (counters by the
/// difference since the last scrape), so nothing on the message path touches
/// them.
final class RiverMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let counters: [(name: String, value: @Sendable (ServerStatistics) -> Int, counter: CoreMetrics.Counter)]
    private let gauges: [(value: @Sendable (ServerStatistics) -> Int, gauge: CoreMetrics.Gauge)]
    private let exported = NIOLockedValueBox<[Int]>([])

    init() {
        let factory = PrometheusMetricsFactory(registry: self.registry)
        let counters: [(String, @Sendable (ServerStatistics) -> Int)] = [
            ("river_connections_accepted_total", { $0.loop.connectionsAccepted }),
            ("river_connections_rejected_total", { $0.loop.connectionsRejected }),
            ("river_requests_total", { $0.loop.requests }),
            ("river_bad_requests_total", { $0.loop.badRequests }),
            ("river_messages_published_total", { $0.engine.messagesPublished }),
            ("river_messages_delivered_total", { $0.delivered.messages }),
            ("river_delivered_bytes_total", { $0.delivered.bytes }),
            ("river_slow_consumers_cut_total", { $0.loop.slowConsumersCut }),
            ("river_catch_ups_total", { $0.loop.catchUps }),
            ("river_lost_notices_total", { $0.loop.lostNotices }),
            ("river_reset_notices_total", { $0.loop.resetNotices }),
            ("river_messages_expired_total", { $0.engine.messagesExpired }),
            ("river_messages_evicted_total", { $0.engine.messagesEvicted }),
            ("river_channels_reclaimed_total", { $0.engine.channelsReclaimed }),
            ("river_redis_reconnects_total", { $0.engine.shards.reduce(0) { $0 + $1.reconnects } }),
            ("river_compressed_messages_total", { $0.compression.messages }),
            ("river_compression_input_bytes_total", { $0.compression.bytesIn }),
            ("river_compression_output_bytes_total", { $0.compression.bytesOut }),
            ("river_auth_requests_total", { Int(clamping: $0.auth?.counts.requests ?? 0) }),
            ("river_auth_cache_hits_total", { Int(clamping: $0.auth?.counts.cacheHits ?? 0) }),
            ("river_auth_coalesced_total", { Int(clamping: $0.auth?.counts.coalesced ?? 0) }),
            ("river_auth_overloaded_total", { Int(clamping: $0.auth?.counts.overloaded ?? 0) }),
            ("river_auth_failures_total", { Int(clamping: $0.auth?.counts.failures ?? 0) }),
        ]
        let cutCounters = CutReason.allCases.map { reason in
            (
                "river_connections_cut_total", reason,
                CoreMetrics.Counter(
                    label: "river_connections_cut_total",
                    dimensions: [("reason", reason.name)],
                    factory: factory
                )
            )
        }
        self.counters =
            counters.map { ($0.0, $0.1, CoreMetrics.Counter(label: $0.0, factory: factory)) }
            + cutCounters.map { name, reason, counter in (name, { $0.cuts.count(reason) }, counter) }
        let gauges: [(String, [(String, String)], @Sendable (ServerStatistics) -> Int)] = [
            ("river_connections", [("transport", "stream")], { $0.streams }),
            ("river_connections", [("transport", "long_poll")], { $0.longPolls }),
            ("river_connections", [("transport", "sse")], { $0.eventStreams }),
            ("river_connections", [("transport", "websocket")], { $0.webSockets }),
            ("river_connections_open", [], { $0.connectionsOpen }),
            ("river_http2_connections", [], { $0.loop.http2Connections }),
            ("river_http2_streams", [], { $0.loop.http2Streams }),
            ("river_channels", [], { $0.engine.channels }),
            ("river_presence_members", [], { $0.presenceMembers }),
            ("river_history_messages", [], { $0.engine.historyMessages }),
            ("river_history_bytes", [], { $0.engine.historyBytes }),
            // Redis shards that did not answer this scrape (their channels and publishes are left out above).
            ("river_unavailable_shards", [], { $0.engine.unavailableShards.count }),
            ("river_stats_streams", [], { $0.statsStreams }),
        ]
        self.gauges = gauges.map { ($0.2, CoreMetrics.Gauge(label: $0.0, dimensions: $0.1, factory: factory)) }
    }

    /// Brings every metric up to `statistics` and renders the exposition.
    func render(_ statistics: ServerStatistics) -> [UInt8] {
        self.exported.withLockedValue { exported in
            if exported.isEmpty { exported = Array(repeating: 0, count: self.counters.count) }
            for (index, entry) in self.counters.enumerated() {
                let value = entry.value(statistics)
                if value > exported[index] {
                    entry.counter.increment(by: value - exported[index])
                    exported[index] = value
                }
            }
        }
        for entry in self.gauges {
            entry.gauge.record(entry.value(statistics))
        }
        var output: [UInt8] = []
        self.registry.emit(into: &output)
        // Each Redis shard's round trip, as this scrape's own command measured it (absent when down).
        let answered = statistics.engine.shards.compactMap { shard in shard.latencyMicros.map { (shard.number, $0) } }
        if !answered.isEmpty {
            var text = "# HELP river_redis_latency_seconds The round trip of a command to each Redis shard.\n"
            text += "# TYPE river_redis_latency_seconds gauge\n"
            for (shard, micros) in answered {
                text += "river_redis_latency_seconds{shard=\"\(shard)\"} \(Double(micros) / 1_000_000)\n"
            }
            output += Array(text.utf8)
        }
        // Each Redis shard's state, one series per state (1 for the current one), as kube-state-metrics does.
        if !statistics.engine.shards.isEmpty {
            var text =
                "# HELP river_redis_shard_state Each Redis shard: up, down, or switching (Sentinel failing it over).\n"
            text += "# TYPE river_redis_shard_state gauge\n"
            for shard in statistics.engine.shards {
                for state in ["up", "down", "switching"] {
                    let value = shard.state == state ? 1 : 0
                    text += "river_redis_shard_state{shard=\"\(shard.number)\",state=\"\(state)\"} \(value)\n"
                }
            }
            output += Array(text.utf8)
        }
        // The application's answer times (absent without `auth_url`).
        if let auth = statistics.auth {
            HistogramExposition.write(
                name: "river_auth_latency_seconds",
                help: "How long the application (auth_url) took to answer each question, timeouts included.",
                series: [("", auth.latency)],
                into: &output
            )
        }
        // The dashboard's instruments (absent with `dashboard off`).
        if !statistics.loopLag.isEmpty {
            HistogramExposition.write(
                name: "river_delivery_latency_seconds",
                help: "Publish to delivered on this node, the oldest message of each delivery round.",
                series: [("", statistics.deliveryLatency)],
                into: &output
            )
            HistogramExposition.write(
                name: "river_event_loop_lag_seconds",
                help: "How late each event loop ran a timer due every 250 ms.",
                series: statistics.loopLag.enumerated().map { ("loop=\"\($0.offset)\"", $0.element) },
                into: &output
            )
        }
        return output
    }
}
