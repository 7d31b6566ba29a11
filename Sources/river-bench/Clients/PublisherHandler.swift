import NIOCore

/// A keep-alive publisher: keeps up to `depth` requests in flight (1 = one at
/// a time, like wrk) until it has `quota` answers or the run stops. With a
/// `rate`, it paces itself instead: every millisecond it sends what the rate
/// says is due.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let makeRequest: (Int) -> ByteBuffer
    private let depth: Int
    private let quota: Int?
    private let rate: Int?
    private let tally: Tally
    private let finished: EventLoopPromise<Void>?
    private var counter = ResponseCounter()
    private var sent = 0
    private var answered = 0
    private var pacing: RepeatedTask?
    private var startedAt: NIODeadline = .now()

    init(
        depth: Int,
        quota: Int?,
        rate: Int? = nil,
        tally: Tally,
        finished: EventLoopPromise<Void>?,
        makeRequest: @escaping (Int) -> ByteBuffer
    ) {
        self.depth = depth
        self.quota = quota
        self.rate = rate
        self.tally = tally
        self.finished = finished
        self.makeRequest = makeRequest
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startedAt = .now()
        if let rate = self.rate {
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            self.pacing = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { _ in
                handler.value.sendDue(rate: rate, context: bound.value)
            }
        } else {
            self.refill(context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let failuresBefore = self.counter.failures
        let answers = self.counter.consume(self.unwrapInboundIn(data))
        self.answered += answers
        if answers > 0 { self.tally.published.wrappingIncrement(by: answers, ordering: .relaxed) }
        if self.counter.failures > failuresBefore {
            self.tally.failed.wrappingIncrement(by: self.counter.failures - failuresBefore, ordering: .relaxed)
        }
        if let quota = self.quota, self.answered >= quota {
            self.finish(context: context)
            return
        }
        if self.rate == nil { self.refill(context: context) }
    }

    private func refill(context: ChannelHandlerContext) {
        var wrote = false
        while self.sent - self.answered < self.depth && !self.tally.isStopped {
            if let quota = self.quota, self.sent >= quota { break }
            context.write(self.wrapOutboundOut(self.makeRequest(self.sent)), promise: nil)
            self.sent += 1
            wrote = true
        }
        if wrote { context.flush() }
        if self.tally.isStopped && self.sent == self.answered { self.finish(context: context) }
    }

    private func sendDue(rate: Int, context: ChannelHandlerContext) {
        guard !self.tally.isStopped else {
            self.finish(context: context)
            return
        }
        let elapsed = NIODeadline.now() - self.startedAt
        var due = Int(elapsed.nanoseconds * Int64(rate) / 1_000_000_000)
        if let quota = self.quota { due = min(due, quota) }
        guard due > self.sent else { return }
        while self.sent < due {
            context.write(self.wrapOutboundOut(self.makeRequest(self.sent)), promise: nil)
            self.sent += 1
        }
        context.flush()
    }

    private func finish(context: ChannelHandlerContext) {
        self.pacing?.cancel()
        self.pacing = nil
        self.finished?.succeed()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pacing?.cancel()
        self.finished?.succeed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// The first refusal the server gave, if any (for the report).
    var firstFailure: String? { self.counter.firstFailure }
}

@available(*, unavailable)
extension PublisherHandler: Sendable {}
