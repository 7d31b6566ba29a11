import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// One connection of a churn run: writes its request, waits for what its
/// kind expects (answers, or a first message), then closes — with a FIN, or
/// with a reset when `resets` is set — and reports whether it got it.
final class ChurnConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What a connection waits for before it closes.
    enum Expectation {
        /// This many complete responses (any status: refusals count too).
        case responses(Int)
        /// A response head, then a first message in this framing.
        case message(StreamFraming.Framing)
    }

    private let request: ByteBuffer
    private let expectation: Expectation
    private let resets: Bool
    private let done: EventLoopPromise<Bool>
    private var responses = ResponseCounter()
    private var answered = 0
    private var stream: StreamFraming?
    private var finished = false

    init(request: ByteBuffer, expectation: Expectation, resets: Bool, done: EventLoopPromise<Bool>) {
        self.request = request
        self.expectation = expectation
        self.resets = resets
        self.done = done
        if case .message(let framing) = expectation { self.stream = StreamFraming(framing: framing) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        let satisfied: Bool
        switch self.expectation {
        case .responses(let count):
            self.answered += self.responses.consume(buffer)
            satisfied = self.answered >= count
        case .message:
            satisfied = self.stream!.consume(buffer).messages > 0
        }
        guard satisfied, !self.finished else { return }
        self.finished = true
        self.done.succeed(true)
        if self.resets, let socket = context.channel as? SocketOptionProvider {
            let channel = context.channel
            socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.finished {
            self.finished = true
            self.done.succeed(false)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
