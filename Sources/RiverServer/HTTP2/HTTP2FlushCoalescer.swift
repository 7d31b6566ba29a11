import NIOCore

/// Below `NIOHTTP2Handler`: turns the writes and flushes of an HTTP/2 connection's streams
/// into one write to the socket per event-loop tick.
///
/// - Flushes: each stream's handler flushes on its own (as an HTTP/1.1 connection does, once
///   per tick), and swift-nio-http2 passes each of those flushes down to the socket: ten
///   streams answered in one tick were ten `writev` calls. Here the first flush of a tick
///   asks the loop to flush the connection at the tick's end
///   (`HTTP2ConnectionHandler.flushQueuedWrites`), and the ones after it wait for that.
/// - Small writes: swift-nio-http2 writes each frame's header (and a HEADERS frame whole) as a
///   buffer of its own, then reuses that buffer, so each one cost a copy of the buffer, an
///   entry in the socket's queue and an iovec (over TLS, a record). Writes of at most
///   `copiedWriteLimit` bytes are copied into one buffer, handed on in order before any larger
///   write, a write with a promise or a flush; larger ones (a message's bytes, encoded once for
///   every subscriber) go on as they are.
///
/// A close flushes first, so nothing written before it (a GOAWAY) is lost. No promise is
/// ever held here.
final class HTTP2FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Writes up to this size are copied together (docs/BENCHMARKS.md, "HTTP/2 against HTTP/1.1").
    static let copiedWriteLimit = 256

    private var context: ChannelHandlerContext?
    private var isFlushPending = false
    /// The small writes copied since the last write handed on.
    private var copied: ByteBuffer?
    /// Asks the loop for the end-of-tick flush (set by `HTTP2ConnectionHandler`).
    var flushAtEndOfTick: () -> Void = {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.copied = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(var buffer) = self.unwrapOutboundIn(data), buffer.readableBytes <= Self.copiedWriteLimit {
            if self.copied == nil { self.copied = context.channel.allocator.buffer(capacity: 1024) }
            self.copied!.writeBuffer(&buffer)
            if let promise { self.handOnCopied(context: context, promise: promise) }
            return
        }
        self.handOnCopied(context: context, promise: nil)
        context.write(data, promise: promise)
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
        guard self.isFlushPending, let context = self.context else { return }
        self.isFlushPending = false
        self.handOnCopied(context: context, promise: nil)
        context.flush()
    }

    private func handOnCopied(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let copied = self.copied.take() else {
            promise?.succeed()
            return
        }
        context.write(self.wrapOutboundOut(.byteBuffer(copied)), promise: promise)
    }
}

@available(*, unavailable)
extension HTTP2FlushCoalescer: Sendable {}
