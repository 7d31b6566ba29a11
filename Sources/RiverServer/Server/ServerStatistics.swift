import NIOCore
import RiverCore

/// A snapshot of the server's figures: each loop's counters and hub, plus the
/// engine's. Collected on demand (`/stats`, `/metrics`), one hop per loop; the
/// hot path only ever increments loop-local integers.
struct ServerStatistics: Sendable {
    var connectionsOpen = 0
    var streams = 0
    var longPolls = 0
    var eventStreams = 0
    var webSockets = 0
    var loop = LoopCounters()
    var delivered = DeliveryCount()
    var engine = EngineStatistics()
    /// Presence members held on this node (`Engine.presenceMembers`).
    var presenceMembers = 0
    var uptimeSeconds = 0
    /// Open `/stats/stream` connections.
    var statsStreams = 0
    /// Publish to delivered, every loop's rounds together (empty with the dashboard off).
    var deliveryLatency = LatencyHistogram()
    /// Each loop's lag, in loop order (none with the dashboard off).
    var loopLag: [LatencyHistogram] = []
    /// permessage-deflate: messages compressed (once per loop), their bytes before and after.
    var compression = (messages: 0, bytesIn: 0, bytesOut: 0)
    /// Connections ended for cause, by reason, and the latest of them.
    var cuts = CutsSummary()
    /// The application's authorization (`auth_url`): what was asked and answered, and how fast (nil: off).
    var auth: (counts: Authorizer.Counts, latency: LatencyHistogram)?

    static func collect(_ server: ServerContext, on loop: EventLoop) -> EventLoopFuture<ServerStatistics> {
        let parts = server.loops.map { box in
            box.eventLoop.submit {
                let context = box.value
                var part = ServerStatistics()
                part.connectionsOpen = context.openConnections
                part.loop = context.counters
                part.cuts = CutsSummary(context.cuts)
                part.delivered = context.hub.delivered
                part.statsStreams = context.statsStreams.count
                let deflater = context.hub.deflater
                part.compression = (deflater.messagesCompressed, deflater.bytesIn, deflater.bytesOut)
                if let latency = context.hub.instruments?.deliveryLatency { part.deliveryLatency = latency }
                if let instruments = context.instruments { part.loopLag = [instruments.lag] }
                return part
            }
        }
        return EventLoopFuture.reduce(ServerStatistics(), parts, on: loop) { total, part in
            var total = total
            total.connectionsOpen += part.connectionsOpen
            total.loop.add(part.loop)
            total.delivered.messages += part.delivered.messages
            total.delivered.bytes += part.delivered.bytes
            total.statsStreams += part.statsStreams
            total.compression.messages += part.compression.messages
            total.compression.bytesIn += part.compression.bytesIn
            total.compression.bytesOut += part.compression.bytesOut
            total.deliveryLatency.add(part.deliveryLatency)
            total.loopLag += part.loopLag
            total.cuts.merge(part.cuts)
            return total
        }.and(server.engine.statistics(on: loop)).map { total, engine in
            var total = total
            total.engine = engine
            total.auth = server.authorizer?.figures
            total.presenceMembers = server.engine.presenceMembers
            total.streams = total.loop.openStreams
            total.longPolls = total.loop.openLongPolls
            total.eventStreams = total.loop.openEventStreams
            total.webSockets = total.loop.webSocketConnections
            total.uptimeSeconds = Int((NIODeadline.now() - server.startedAt).nanoseconds / 1_000_000_000)
            return total
        }
    }

    /// The `/stats` document: 200 also while a shard is down, the shards
    /// that did not answer listed in `unavailable_shards`.
    func json(engineName: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        func field(_ name: StaticString, _ value: Int, last: Bool = false) {
            buffer.writeStaticString("\"")
            buffer.writeStaticString(name)
            buffer.writeStaticString("\": ")
            buffer.writeDecimal(UInt64(max(value, 0)))
            if !last { buffer.writeStaticString(", ") }
        }
        buffer.writeStaticString("{\"engine\": ")
        JSONString.write(engineName, into: &buffer)
        buffer.writeStaticString(", ")
        field("uptime_seconds", self.uptimeSeconds)
        buffer.writeStaticString("\"connections\": {")
        field("open", self.connectionsOpen)
        field("stream", self.streams)
        field("long_poll", self.longPolls)
        field("sse", self.eventStreams)
        field("websocket", self.webSockets, last: true)
        buffer.writeStaticString("}, \"http2\": {")
        field("connections", self.loop.http2Connections)
        field("streams", self.loop.http2Streams, last: true)
        buffer.writeStaticString("}, \"compression\": {")
        field("messages", self.compression.messages)
        field("bytes_in", self.compression.bytesIn)
        field("bytes_out", self.compression.bytesOut, last: true)
        buffer.writeStaticString("}, ")
        field("connections_accepted", self.loop.connectionsAccepted)
        field("connections_rejected", self.loop.connectionsRejected)
        field("requests", self.loop.requests)
        field("bad_requests", self.loop.badRequests)
        field("channels", self.engine.channels)
        field("presence_members", self.presenceMembers)
        field("messages_published", self.engine.messagesPublished)
        field("messages_delivered", self.delivered.messages)
        field("bytes_delivered", self.delivered.bytes)
        field("slow_consumers_cut", self.loop.slowConsumersCut)
        field("catch_ups", self.loop.catchUps)
        field("lost_notices", self.loop.lostNotices)
        field("reset_notices", self.loop.resetNotices)
        buffer.writeStaticString("\"cuts\": ")
        self.cuts.writeJSON(into: &buffer)
        buffer.writeStaticString(", \"auth\": ")
        self.writeAuth(into: &buffer)
        buffer.writeStaticString(", ")
        field("history_messages", self.engine.historyMessages)
        field("history_bytes", self.engine.historyBytes)
        field("messages_expired", self.engine.messagesExpired)
        field("messages_evicted", self.engine.messagesEvicted)
        field("channels_reclaimed", self.engine.channelsReclaimed)
        // Each Redis shard: up, down or switching (Sentinel failing it over), the round trip of this
        // document's own command, and the reconnects so far.
        buffer.writeStaticString("\"redis_shards\": [")
        for (index, shard) in self.engine.shards.enumerated() {
            buffer.writeStaticString(index == 0 ? "{\"shard\": " : ", {\"shard\": ")
            buffer.writeDecimal(UInt64(max(shard.number, 0)))
            buffer.writeStaticString(", \"state\": ")
            JSONString.write(shard.state, into: &buffer)
            buffer.writeStaticString(", \"latency_us\": ")
            if let latency = shard.latencyMicros {
                buffer.writeDecimal(UInt64(max(latency, 0)))
            } else {
                buffer.writeStaticString("null")
            }
            buffer.writeStaticString(", \"reconnects\": ")
            buffer.writeDecimal(UInt64(max(shard.reconnects, 0)))
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("], ")
        // Shards that did not answer: the sums above leave their figures out.
        buffer.writeStaticString("\"unavailable_shards\": [")
        for (index, shard) in self.engine.unavailableShards.enumerated() {
            buffer.writeStaticString(index == 0 ? "{\"shard\": " : ", {\"shard\": ")
            buffer.writeDecimal(UInt64(max(shard.number, 0)))
            buffer.writeStaticString(", \"redis\": ")
            JSONString.write(shard.location, into: &buffer)
            buffer.writeStaticString(", \"reason\": ")
            JSONString.write(shard.reason, into: &buffer)
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("]}")
        return buffer
    }

    /// `null` without `auth_url`; else its counts and the application's answer time (p50, p99, in µs; null
    /// before the first question).
    private func writeAuth(into buffer: inout ByteBuffer) {
        guard let auth = self.auth else {
            buffer.writeStaticString("null")
            return
        }
        let counts: [(StaticString, UInt64)] = [
            ("requests", auth.counts.requests), ("cache_hits", auth.counts.cacheHits),
            ("coalesced", auth.counts.coalesced), ("overloaded", auth.counts.overloaded),
            ("failures", auth.counts.failures),
        ]
        buffer.writeStaticString("{")
        for (name, value) in counts {
            buffer.writeStaticString("\"")
            buffer.writeStaticString(name)
            buffer.writeStaticString("\": ")
            buffer.writeDecimal(value)
            buffer.writeStaticString(", ")
        }
        buffer.writeStaticString("\"latency_us\": {\"p50\": ")
        Self.writeMicros(auth.latency.quantile(0.5), into: &buffer)
        buffer.writeStaticString(", \"p99\": ")
        Self.writeMicros(auth.latency.quantile(0.99), into: &buffer)
        buffer.writeStaticString("}}")
    }

    private static func writeMicros(_ nanoseconds: Int64?, into buffer: inout ByteBuffer) {
        guard let nanoseconds else {
            buffer.writeStaticString("null")
            return
        }
        buffer.writeDecimal(UInt64(max(nanoseconds / 1000, 0)))
    }
}
