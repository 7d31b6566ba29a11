/// How a `TestConnection` moves bytes: through a real socket (`live`) or
/// through the server's handlers in-process. Bytes the server wrote come
/// back in order; `nil` says the server closed the connection.
protocol TestTransport: AnyObject, Sendable {
    func send(_ bytes: [UInt8]) async throws
    /// What the server has written that was not taken yet, waiting until
    /// something comes, the server closes the connection (nil), or `timeout`.
    func receive(timeout: Duration) async throws -> [UInt8]?
    /// What the server has written by now, without waiting for more (in-process:
    /// once everything due has run; live: what the socket has delivered).
    func receiveNow() async throws -> [UInt8]
    /// Whether the server has closed the connection.
    func isClosedByServer() async -> Bool
    /// The client stops reading: the server's writes pile up in the connection.
    func stopReading() async
    /// The client reads again.
    func resumeReading() async
    /// Closes the client's end.
    func close() async
}
