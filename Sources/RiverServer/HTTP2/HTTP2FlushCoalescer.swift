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
///   entry in the socket's queue and an iovec (over TLS, a record). A run of writes of at most
///   `copiedWriteLimit` bytes is copied into one buffer, handed on in order before any larger
///   write, a write with a promise or a flush; larger ones (a message's bytes, encoded once for
///   every subscriber) go on as they are. A small write alone before a larger one (a DATA
///   frame's header before its message) goes on as it is, uncopied.
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
    /// The small writes since the last write handed on: the first as it was written, then
    /// (from the second on) copied together.
    private var held: ByteBuffer?
    private var heldIsCopy = false
    /// Asks the loop for the end-of-tick flush (set by `HTTP2ConnectionHandler`).
    var flushAtEndOfTick: () -> Void = {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.held = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = self.unwrapOutboundIn(data),
            buffer.readableBytes <= Self.copiedWriteLimit
        else {
            self.handOnHeld(context: context, promise: nil)
            context.write(data, promise: promise)
            return
        }
        if self.held == nil {
            self.held = buffer
            self.heldIsCopy = false
        } else {
            if !self.heldIsCopy {
                var copy = context.channel.allocator.buffer(capacity: 1024)
                copy.writeImmutableBuffer(self.held!)
                self.held = copy
                self.heldIsCopy = true
            }
            self.held!.writeBuffer(&buffer)
        }
        if let promise { self.handOnHeld(context: context, promise: promise) }
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
        self.handOnHeld(context: context, promise: nil)
        context.flush()
    }

    private func handOnHeld(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        guard let held = self.held.take() else {
            promise?.succeed()
            return
        }
        context.write(self.wrapOutboundOut(.byteBuffer(held)), promise: promise)
    }
}

@available(*, unavailable)
extension HTTP2FlushCoalescer: Sendable {}
