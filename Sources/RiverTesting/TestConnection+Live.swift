extension TestConnection {
    /// Sends `bytes` on a live connection; throws `TimedOut` if the kernel has
    /// not taken them all within `timeout`: how a test sees that the server
    /// stopped reading (what was not sent stays queued until the connection closes).
    public func send(_ bytes: [UInt8], within timeout: Duration) async throws {
        guard let live = self.transport as? LiveTransport else {
            preconditionFailure("send(_:within:) needs a live connection: in-process, stopReading() backs up at once")
        }
        try await live.send(bytes, timeout: timeout)
    }
}
