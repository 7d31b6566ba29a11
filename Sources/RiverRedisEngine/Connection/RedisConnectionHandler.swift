import DequeModule
import NIOCore

/// The last handler of a Redis connection: writes commands (flushing once
/// per event loop tick, so a burst of commands goes out in one write) and
/// matches replies to them in order. On a subscription connection, messages
/// pushed by Redis (`["message", channel, payload]`) go to `onPush` instead.
///
/// It keeps its `ChannelHandlerContext` only between `handlerAdded` and
/// `handlerRemoved` (commands are sent from outside a callback): a closed
/// connection frees the handler, its pipeline and its channel.
///
/// A Redis that stops reading or answering cannot make River buffer without
/// bound: while the socket is not writable (more than the write buffer's
/// high-water mark is unsent) a command fails at once, and a connection
/// whose oldest unanswered command has waited `replyTimeout` is closed
/// (`checkStalled`), failing what it carried (503) and reconnecting.
final class RedisConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    /// What receives a command's reply (or the reason it will get none).
    typealias Reply = (Result<RESPValue, Error>) -> Void

    private let isSubscriptionConnection: Bool
    private let onPush: (ByteBuffer, ByteBuffer) -> Void
    private var waiting: Deque<Reply> = []
    private var context: ChannelHandlerContext?
    private var output: ByteBuffer
    private var flushScheduled = false
    private var closedError: Error?
    /// Since when replies have been awaited without any arriving (nil: none awaited).
    private var waitingSince: NIODeadline?

    init(
        isSubscriptionConnection: Bool,
        allocator: ByteBufferAllocator,
        onPush: @escaping (ByteBuffer, ByteBuffer) -> Void
    ) {
        self.isSubscriptionConnection = isSubscriptionConnection
        self.onPush = onPush
        self.output = allocator.buffer(capacity: 4096)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.failAll(self.closedError ?? RedisConnectionError.closed)
    }

    /// Queues `command`; `reply` is called with its reply, in order.
    func send(_ command: RESPCommand, reply: @escaping Reply) {
        guard let context = self.context, self.closedError == nil else {
            reply(.failure(self.closedError ?? RedisConnectionError.closed))
            return
        }
        guard context.channel.isWritable else {
            reply(.failure(RedisConnectionError.backlogged))
            return
        }
        command.write(into: &self.output)
        if self.waiting.isEmpty { self.waitingSince = .now() }
        self.waiting.append(reply)
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { handler.value.flushOutput() }
    }

    private func flushOutput() {
        self.flushScheduled = false
        guard let context = self.context, self.output.readableBytes > 0 else { return }
        let bytes = self.output
        self.output = context.channel.allocator.buffer(capacity: 4096)
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
    }

    /// Closes the connection when a reply has been awaited for `timeout` with none arriving.
    func checkStalled(now: NIODeadline, timeout: TimeAmount) {
        guard let context = self.context, let since = self.waitingSince, since + timeout <= now else { return }
        self.failAll(RedisConnectionError.timedOut)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = self.unwrapInboundIn(data)
        defer { self.waitingSince = self.waiting.isEmpty ? nil : .now() }
        if self.isSubscriptionConnection, case .array(let parts?) = value, parts.count == 3,
            parts[0].string == "message", let channel = parts[1].bytes, let payload = parts[2].bytes
        {
            self.onPush(channel, payload)
            return
        }
        guard let reply = self.waiting.popFirst() else {
            context.fireErrorCaught(RedisConnectionError.unexpectedReply)
            return
        }
        reply(.success(value))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.failAll(RedisConnectionError.failed("\(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisConnectionError.closed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: Error) {
        if self.closedError == nil { self.closedError = error }
        self.waitingSince = nil
        while let reply = self.waiting.popFirst() {
            reply(.failure(error))
        }
    }
}

/// Why a command got no reply.
enum RedisConnectionError: Error, CustomStringConvertible {
    case closed
    case unexpectedReply
    case notConnected
    /// More than the write buffer's high-water mark is waiting to go to Redis.
    case backlogged
    /// Redis answered nothing for too long; the connection was closed.
    case timedOut
    /// The connection broke (an I/O error, or bytes that are not RESP).
    case failed(String)

    var description: String {
        switch self {
        case .closed: return "the Redis connection closed"
        case .unexpectedReply: return "Redis sent a reply nobody asked for"
        case .notConnected: return "not connected to Redis"
        case .backlogged: return "Redis is not reading what River sends"
        case .timedOut: return "Redis did not answer in time"
        case .failed(let reason): return "the Redis connection failed: \(reason)"
        }
    }
}

@available(*, unavailable)
extension RedisConnectionHandler: Sendable {}
