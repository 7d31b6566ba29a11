import NIOConcurrencyHelpers

/// A `TestTransport` that carries the test's HTTP/1.1 over HTTP/2 on another
/// transport (in-process h2c, live h2c, or TLS after ALPN `h2`): with
/// `RIVER_TEST_HTTP2=1` every connection the kit makes is one, so the
/// transports' suites run over HTTP/2 unchanged (`HTTP1OverHTTP2` says what
/// is translated and what HTTP/2 cannot carry).
final class HTTP2BridgedTransport: TestTransport {
    private let inner: TestTransport
    private let bridge = NIOLockedValueBox(HTTP1OverHTTP2())
    /// HTTP/1.1 bytes read while looking for a close, not taken by the test yet.
    private let unread = NIOLockedValueBox<[UInt8]>([])

    private init(inner: TestTransport) {
        self.inner = inner
    }

    /// Sends the preface over `inner` and waits for the server's SETTINGS
    /// (RFC 8441: an extended CONNECT may only follow them).
    static func open(over inner: TestTransport, timeout: Duration = .seconds(10)) async throws -> HTTP2BridgedTransport
    {
        let transport = HTTP2BridgedTransport(inner: inner)
        try await inner.send(HTTP1OverHTTP2.preface)
        let deadline = ContinuousClock.now + timeout
        while !transport.bridge.withLockedValue({ $0.hasServerSettings }) {
            guard let bytes = try await inner.receive(timeout: deadline - .now) else {
                throw TestFailure("the server closed the connection before its HTTP/2 SETTINGS")
            }
            _ = try await transport.take(bytes)
        }
        return transport
    }

    func send(_ bytes: [UInt8]) async throws {
        let frames = try self.bridge.withLockedValue { try $0.send(bytes) }
        if !frames.isEmpty { try await self.inner.send(frames) }
    }

    func receive(timeout: Duration) async throws -> [UInt8]? {
        let unread = self.takeUnread()
        if !unread.isEmpty { return unread }
        let deadline = ContinuousClock.now + timeout
        while !self.bridge.withLockedValue({ $0.isClosed }) {
            let remaining = deadline - .now
            guard remaining > .zero else { throw TimedOut("read timed out after \(timeout)") }
            guard let bytes = try await self.inner.receive(timeout: remaining) else {
                let last = self.bridge.withLockedValue { $0.closedUnderneath() }
                return last.isEmpty ? nil : last
            }
            let text = try await self.take(bytes)
            if !text.isEmpty { return text }
        }
        return nil
    }

    func receiveNow() async throws -> [UInt8] {
        self.takeUnread() + (try await self.take(try await self.inner.receiveNow()))
    }

    private func takeUnread() -> [UInt8] {
        self.unread.withLockedValue { unread in
            defer { unread.removeAll() }
            return unread
        }
    }

    /// Reads the server's frames: answers what needs an answer, returns the HTTP/1.1 bytes.
    private func take(_ bytes: [UInt8]) async throws -> [UInt8] {
        let (text, reply) = try self.bridge.withLockedValue { try $0.receive(bytes) }
        // (The server may have closed since: what it sent before still counts.)
        if !reply.isEmpty { try? await self.inner.send(reply) }
        return text
    }

    /// Whether the server has closed the connection, or reset (ended, for an
    /// event stream or a WebSocket) the stream being read: what it sent before is kept.
    func isClosedByServer() async -> Bool {
        if let text = try? await self.take(try await self.inner.receiveNow()) {
            self.unread.withLockedValue { $0 += text }
        }
        if self.bridge.withLockedValue({ $0.isClosed }) { return true }
        return await self.inner.isClosedByServer()
    }

    func stopReading() async { await self.inner.stopReading() }

    func resumeReading() async { await self.inner.resumeReading() }

    func close() async { await self.inner.close() }
}
