import NIOCore

/// Below `NIOHTTP2Handler`: turns the flushes of an HTTP/2 connection's streams into one
/// write to the socket per event-loop tick. Each stream's handler flushes on its own (as an
/// HTTP/1.1 connection does, once per tick), and swift-nio-http2 passes each of those
/// flushes down to the socket: ten streams answered in one tick were ten `writev` calls.
/// Here the first flush of a tick asks the loop to flush the connection at the tick's end
/// (`HTTP2ConnectionHandler.flushQueuedWrites`), and the ones after it wait for that; a
/// close flushes first, so nothing written before it (a GOAWAY) is lost.
final class HTTP2FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var context: ChannelHandlerContext?
    private var isFlushPending = false
    /// Asks the loop for the end-of-tick flush (set by `HTTP2ConnectionHandler`).
    var flushAtEndOfTick: () -> Void = {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func flush(context: ChannelHandlerContext) {
        guard !self.isFlushPending else { return }
        self.isFlushPending = true
        self.flushAtEndOfTick()
    }

    /// A close goes after what waits: a GOAWAY written and flushed just before it is sent.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        self.flushNow()
        context.close(mode: mode, promise: promise)
    }

    /// The tick's end: what the streams wrote goes to the socket in one go.
    func flushNow() {
        guard self.isFlushPending else { return }
        self.isFlushPending = false
        self.context?.flush()
    }
}

@available(*, unavailable)
extension HTTP2FlushCoalescer: Sendable {}
