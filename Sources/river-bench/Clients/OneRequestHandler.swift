import NIOCore

/// One request on its own connection: its answer's body, or nil when the
/// status was not 2xx or the connection ended first.
final class OneRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let answer: EventLoopPromise<[UInt8]?>
    private var counter = ResponseCounter(keepBody: true)
    private var answered = false

    init(request: ByteBuffer, answer: EventLoopPromise<[UInt8]?>) {
        self.request = request
        self.answer = answer
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard self.counter.consume(self.unwrapInboundIn(data)) > 0, !self.answered else { return }
        self.answered = true
        self.answer.succeed(self.counter.failures == 0 ? self.counter.lastBody : nil)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.answered {
            self.answered = true
            self.answer.succeed(nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension OneRequestHandler: Sendable {}
