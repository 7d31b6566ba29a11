import NIOCore
import RiverCore

/// `/stats/stream`: the connection carries a `StatsStream` (the dashboard's
/// samples) instead of a subscription, with the same state machine: it is
/// a stream that ignores further input and ends with the connection.
extension HTTPConnectionHandler {
    func startStatsStream(_ head: ParsedRequestHead, headers: [(String, String)]) {
        guard let place = ConnectionSlot(self.server.statsStreamLimiter) else {
            let limit = self.server.configuration.maxStatsStreams
            self.respond(.refusal(.unavailable("\(limit) stats streams are open (max_stats_streams)")), to: head)
            return
        }
        guard case .start(let keepAlive, let dropParser) = self.machine.streamStarting(
            ignoresInput: true,
            chunked: false
        ) else {
            place.release()
            return
        }
        let stream = StatsStream(loop: self.loop, place: place, output: self)
        var streamHead = self.allocator.buffer(capacity: 512)
        HTTP1ResponseWriter.writeHead(
            status: .ok,
            contentType: "text/event-stream; charset=utf-8",
            framing: .close,
            keepAlive: keepAlive,
            isHTTP10: head.isHTTP10,
            extraHeaders: [("Cache-Control", "no-cache, no-store"), ("X-Accel-Buffering", "no")] + headers,
            into: &streamHead
        )
        self.pendingStreamHead = streamHead
        self.statsStream = stream
        if dropParser { self.parser = nil }
        // The kept samples come from the dashboard's loop; samples taken after
        // them reach this loop after them, so nothing is missed or repeated.
        self.server.dashboardHistory(on: self.loop.eventLoop).assumeIsolated().whenSuccess { history in
            guard self.statsStream === stream else { return }  // closed meanwhile
            stream.start(history: history)
        }
    }
}
