/// A connection's place under `max_connections`, taken at accept and given
/// back exactly once, when the connection closes, by whichever handler owns
/// the connection then (a WebSocket upgrade hands it on). Not copyable, so it
/// cannot be given back twice; no allocation of its own.
struct ConnectionSlot: ~Copyable {
    private let limiter: ConnectionLimiter

    /// Takes a slot from `limiter`; nil (nothing taken) when the server is full.
    init?(_ limiter: ConnectionLimiter) {
        guard limiter.acquire() else { return nil }
        self.limiter = limiter
    }

    consuming func release() {
        self.limiter.release()
    }
}
