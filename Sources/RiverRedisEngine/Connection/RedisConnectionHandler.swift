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
        command.write(into: &self.output)
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = self.unwrapInboundIn(data)
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
    /// The connection broke (an I/O error, or bytes that are not RESP).
    case failed(String)

    var description: String {
        switch self {
        case .closed: return "the Redis connection closed"
        case .unexpectedReply: return "Redis sent a reply nobody asked for"
        case .notConnected: return "not connected to Redis"
        case .failed(let reason): return "the Redis connection failed: \(reason)"
        }
    }
}

@available(*, unavailable)
extension RedisConnectionHandler: Sendable {}
