/// Who subscribes to what in a multi-channel run, and what each connection
/// is due. Connection `i` takes `perConnection` consecutive channels of a
/// pool of `pool`, starting at `i mod pool`, so every channel has about as
/// many subscribers as the others (exactly `connections × perConnection /
/// pool` when `pool` divides `connections`) and no two neighbours share the
/// same set; publish `j` goes to channel `j mod pool`, so every subscription
/// gets traffic.
struct ChannelPlan: Sendable {
    let connections: Int
    let perConnection: Int
    let pool: Int

    init(connections: Int, perConnection: Int, pool: Int) throws {
        guard connections >= 1, perConnection >= 1, pool >= perConnection else {
            throw BenchError("a plan needs connections >= 1 and 1 <= channels per connection <= the pool")
        }
        self.connections = connections
        self.perConnection = perConnection
        self.pool = pool
    }

    /// The pool indices connection `connection` subscribes to (all different).
    func channels(of connection: Int) -> [Int] {
        (0..<self.perConnection).map { (connection + $0) % self.pool }
    }

    /// How many of `publishes` (spread round robin over the pool) go to `channel`.
    func publishes(to channel: Int, of publishes: Int) -> Int {
        publishes / self.pool + (channel < publishes % self.pool ? 1 : 0)
    }

    /// The messages connection `connection` is due when `publishes` are spread over the pool.
    func expected(for connection: Int, publishes: Int) -> Int {
        self.channels(of: connection).reduce(0) { $0 + self.publishes(to: $1, of: publishes) }
    }

    /// Every connection's due, summed: the deliveries a lossless run makes.
    func expectedDeliveries(publishes: Int) -> Int {
        (0..<self.connections).reduce(0) { $0 + self.expected(for: $1, publishes: publishes) }
    }

    /// Subscriptions in all.
    var subscriptions: Int { self.connections * self.perConnection }
}
