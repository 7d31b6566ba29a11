import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A connection to a River over a real loopback socket, on SwiftNIO: no
/// test thread ever blocks on it, so tests never hold Swift's cooperative
/// pool while they wait for the server.
final class LiveTransport: TestTransport {
    private let channel: Channel
    private let inbound: NIOLoopBound<InboundCollector>

    private init(channel: Channel, inbound: NIOLoopBound<InboundCollector>) {
        self.channel = channel
        self.inbound = inbound
    }

    /// Connects to 127.0.0.1:`port`; `receiveBufferBytes` shrinks the kernel's
    /// receive buffer (a reader that falls behind fills it soon); `below` adds
    /// handlers under the test's bytes (TLS: `TLSTransport`).
    static func connect(
        port: Int,
        receiveBufferBytes: Int? = nil,
        below: (@Sendable (Channel) throws -> Void)? = nil
    ) async throws -> LiveTransport {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
        if let receiveBufferBytes {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        // The collector is handed out as it is added: a server that answers and
        // closes at once (a 503 at accept) may have torn the pipeline down
        // before a later lookup of the handler.
        let (channel, inbound) = try await bootstrap.connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try below?(channel)
                let collector = InboundCollector()
                try channel.pipeline.syncOperations.addHandler(collector)
                return (channel, NIOLoopBound(collector, eventLoop: channel.eventLoop))
            }
        }
        return LiveTransport(channel: channel, inbound: inbound)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.send(bytes, timeout: .seconds(10))
    }

    /// Sends `bytes`; throws `TimedOut` if the kernel has not taken them all
    /// within `timeout` (what was not sent stays queued).
    func send(_ bytes: [UInt8], timeout: Duration) async throws {
        // A server that stopped reading must not hold the test: bounded like every wait.
        let sent = self.channel.eventLoop.makePromise(of: Void.self)
        self.channel.writeAndFlush(ByteBuffer(bytes: bytes)).cascade(to: sent)
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let timer = self.channel.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            sent.fail(TimedOut("send of \(bytes.count) bytes not done within \(timeout)"))
        }
        defer { timer.cancel() }
        do {
            try await sent.futureResult.get()
        } catch let timedOut as TimedOut {
            throw timedOut  // the server stopped reading: callers may expect exactly that
        } catch {
            // Say what the server said before it closed (a 503 at accept, say).
            let inbound = self.inbound
            let (before, closing) = (try? await self.channel.eventLoop.submit { (inbound.value.peek(), inbound.value.closingError) }.get()) ?? ([], nil)
            throw TestFailure(
                "send failed (\(error)); the server had sent: \(String(decoding: before.prefix(300), as: UTF8.self).debugDescription); closed by: \(closing.map { "\($0)" } ?? "no error")"
            )
        }
    }

    func receive(timeout: Duration) async throws -> [UInt8]? {
        let inbound = self.inbound
        let loop = self.channel.eventLoop
        return try await withCheckedThrowingContinuation { continuation in
            loop.execute { inbound.value.take(waitingUpTo: timeout, continuation) }
        }
    }

    func receiveNow() async throws -> [UInt8] {
        let inbound = self.inbound
        return try await self.channel.eventLoop.submit { inbound.value.takeAll() }.get()
    }

    func isClosedByServer() async -> Bool {
        let inbound = self.inbound
        return (try? await self.channel.eventLoop.submit { inbound.value.isClosed }.get()) ?? true
    }

    func stopReading() async {
        try? await self.channel.setOption(.autoRead, value: false).get()
    }

    func resumeReading() async {
        try? await self.channel.setOption(.autoRead, value: true).get()
        self.channel.read()
    }

    func close() async {
        try? await self.channel.close().get()
    }
}

/// Keeps what the server sends until the test takes it; hands it to a waiting reader at once.
private final class InboundCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var bytes: [UInt8] = []
    private(set) var isClosed = false
    private var waiter: CheckedContinuation<[UInt8]?, Error>?
    private var waiterTimeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.closed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.bytes += self.unwrapInboundIn(data).readableBytesView
        self.wakeWaiter()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed()
        context.fireChannelInactive()
    }

    /// The error that closed the connection, if one did.
    private(set) var closingError: Error?

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset is the server closing: what arrived before it stays readable.
        self.closingError = self.closingError ?? error
        context.close(promise: nil)
    }

    private func closed() {
        self.isClosed = true
        self.wakeWaiter()
    }

    func peek() -> [UInt8] { self.bytes }

    func takeAll() -> [UInt8] {
        defer { self.bytes.removeAll() }
        return self.bytes
    }

    func take(waitingUpTo timeout: Duration, _ continuation: CheckedContinuation<[UInt8]?, Error>) {
        precondition(self.waiter == nil, "one read at a time")
        if !self.bytes.isEmpty {
            continuation.resume(returning: self.takeAll())
            return
        }
        if self.isClosed {
            continuation.resume(returning: nil)
            return
        }
        self.waiter = continuation
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        self.waiterTimeout = self.context?.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) {
            guard let waiter = self.waiter else { return }
            self.waiter = nil
            self.waiterTimeout = nil
            waiter.resume(throwing: TimedOut("read timed out after \(timeout)"))
        }
    }

    private func wakeWaiter() {
        guard let waiter = self.waiter else { return }
        self.waiter = nil
        self.waiterTimeout?.cancel()
        self.waiterTimeout = nil
        if self.bytes.isEmpty {
            waiter.resume(returning: nil)
        } else {
            waiter.resume(returning: self.takeAll())
        }
    }
}
