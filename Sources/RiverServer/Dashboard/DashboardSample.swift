import NIOCore
import RiverCore

/// One second of the dashboard: the difference of two `DashboardReading`s as
/// rates, plus what is current (connections, memory, top channels, shards),
/// written as one Server-Sent Event:
///
///     event: sample
///     data: {"time": 1733347200000, "interval": 1, "connections": {...}, "rates": {...}, ...}
///
/// The document's fields are listed in docs/Operations.md ("The dashboard").
enum DashboardSample {
    /// How many channels the top lists hold.
    static let topChannels = 10

    static func event(
        from previous: DashboardReading,
        to current: DashboardReading,
        nodes: [[UInt8]],
        configuration: RiverConfiguration
    ) -> ByteBuffer {
        var json = JSONWriter()
        let seconds = max(Double((current.at - previous.at).nanoseconds) / 1e9, 0.001)
        let now = current.statistics
        let before = previous.statistics
        func rate(_ value: (ServerStatistics) -> Int) -> Double {
            Double(max(value(now) - value(before), 0)) / seconds
        }
        json.open()
        json.field("time", Int(current.wallMillis))
        json.field("interval", seconds)
        json.field("uptime_seconds", now.uptimeSeconds)
        json.field("engine", configuration.engine.rawValue)
        json.field("presence_members", now.presenceMembers)

        json.object("connections") { json in
            json.field("open", now.connectionsOpen)
            json.field("stream", now.streams)
            json.field("long_poll", now.longPolls)
            json.field("sse", now.eventStreams)
            json.field("websocket", now.webSockets)
            json.field("stats_stream", now.statsStreams)
            json.field("http2", now.loop.http2Connections)
            json.field("http2_streams", now.loop.http2Streams)
        }
        json.object("rates") { json in
            json.field("accepted", rate { $0.loop.connectionsAccepted })
            json.field("rejected", rate { $0.loop.connectionsRejected })
            json.field("requests", rate { $0.loop.requests })
            json.field("bad_requests", rate { $0.loop.badRequests })
            json.field("published", rate { $0.engine.messagesPublished })
            json.field("delivered", rate { $0.delivered.messages })
            json.field("bytes_delivered", rate { $0.delivered.bytes })
            json.field("slow_consumers_cut", rate { $0.loop.slowConsumersCut })
            json.field("compression_in", rate { $0.compression.bytesIn })
            json.field("compression_out", rate { $0.compression.bytesOut })
            json.field("catch_ups", rate { $0.loop.catchUps })
            json.field("lost_notices", rate { $0.loop.lostNotices })
            json.field("reset_notices", rate { $0.loop.resetNotices })
            json.field("expired", rate { $0.engine.messagesExpired })
            json.field("evicted", rate { $0.engine.messagesEvicted })
        }
        // Who is being cut and why: the rate of each reason, and the latest cuts with their peers.
        json.object("cuts") { json in
            json.object("rates") { json in
                for reason in CutReason.allCases {
                    json.field(reason.key, rate { $0.cuts.count(reason) })
                }
            }
            json.array("recent", now.cuts.recent) { json, cut in
                json.open()
                json.field("at", Int(cut.at))
                json.field("peer", cut.peer)
                json.field("transport", cut.transport)
                json.field("reason", cut.reason.name)
                json.field("detail", cut.detail)
                json.close()
            }
        }
        // The application's authorization (null without `auth_url`): questions and cache hits
        // per second, its answer time over the second.
        if let auth = now.auth {
            let earlier = before.auth
            json.object("auth") { json in
                json.field("requests", rate { Int(clamping: $0.auth?.counts.requests ?? 0) })
                json.field("cache_hits", rate { Int(clamping: $0.auth?.counts.cacheHits ?? 0) })
                json.field("failures", rate { Int(clamping: $0.auth?.counts.failures ?? 0) })
                let answered = earlier.map { auth.latency.subtracting($0.latency) } ?? auth.latency
                json.field("p50_us", answered.quantile(0.5).map { Int($0 / 1000) })
                json.field("p99_us", answered.quantile(0.99).map { Int($0 / 1000) })
            }
        } else {
            json.field("auth", nil as Int?)
        }
        let window = now.deliveryLatency.subtracting(before.deliveryLatency)
        json.object("delivery_latency_us") { json in
            json.field("rounds", Int(clamping: window.count))
            json.field("p50", window.quantile(0.5).map { Int($0 / 1000) })
            json.field("p99", window.quantile(0.99).map { Int($0 / 1000) })
        }
        json.array("loop_lag_us", current.windows) { json, window in
            json.value(Int(window.worstLag.nanoseconds / 1000))
        }
        json.object("memory") { json in
            json.field("resident_bytes", current.residentBytes)
            json.field("history_bytes", now.engine.historyBytes)
            json.field("max_memory", configuration.history.maxMemory)
            json.field("history_messages", now.engine.historyMessages)
            json.field("channels", now.engine.channels)
            json.field("max_channels", configuration.history.channelLimit)
        }
        json.array("top_published", current.topPublishing(Self.topChannels)) { json, entry in
            json.open()
            json.field("channel", entry.channel.value)
            json.field("rate", Double(entry.count) / seconds)
            json.close()
        }
        json.array("top_subscribed", current.topSubscribed(Self.topChannels)) { json, entry in
            json.open()
            json.field("channel", entry.channel.value)
            json.field("subscribers", entry.count)
            json.close()
        }
        json.object("shards") { json in
            let shards = configuration.engine == .redis ? ((try? configuration.redisShards().count) ?? 0) : 0
            json.field("configured", shards)
            json.array("unavailable", now.engine.unavailableShards) { json, shard in
                json.open()
                json.field("shard", shard.number)
                json.field("redis", shard.location)
                json.field("reason", shard.reason)
                json.close()
            }
            json.array("health", now.engine.shards) { json, shard in
                json.open()
                json.field("shard", shard.number)
                json.field("state", shard.state)
                json.field("latency_us", shard.latencyMicros)
                json.field("reconnects", shard.reconnects)
                json.close()
            }
        }
        // Every node's heartbeat (`NodeHeartbeat`), this one's included; with Redis, every node sharing it.
        json.array("nodes", nodes) { json, node in json.raw(node) }
        json.close()
        var event = ByteBuffer()
        EventStreamFraming.writeEvent(id: nil, event: "sample", data: json.buffer, into: &event)
        return event
    }
}
