import NIOCore

/// A connection accepted over `max_connections`: answered 503 at once,
/// before it sends anything, so a flood of silent sockets cannot hold the
/// server full. Our side closes after the answer; input is read and dropped
/// (closing with unread input would reset the connection and lose the
/// answer), and the socket closes when the peer closes, or after a grace period.
final class RefusedConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long a refused peer may linger before its socket is closed.
    static let grace = TimeAmount.seconds(2)

    private let answer: ByteBuffer

    /// `answer`: the 503 every refused connection gets (`answer(limit:)`, built once).
    init(answer: ByteBuffer) {
        self.answer = answer
    }

    /// The 503 for a server full at `limit` connections.
    static func answer(limit: Int) -> ByteBuffer {
        var answer = ByteBuffer()
        HTTP1ResponseWriter.serialize(
            .refusal(
                .unavailable("server is at its connection limit (\(limit))"),
                headers: [("Retry-After", "1")],
                closesConnection: true
            ),
            isHTTP10: false,
            omitsBody: false,
            keepAlive: false,
            allocator: ByteBufferAllocator()
        ) { answer.writeImmutableBuffer($0) }
        return answer
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(self.answer)).assumeIsolated().whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        channel.eventLoop.scheduleTask(in: Self.grace) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RefusedConnectionHandler: Sendable {}
