import NIOCore
import RiverCore

/// A subscription carried by an HTTP/1.1 response: the connection is its
/// `StreamOutput`. A stream owns the connection to its end (its parser and
/// buffered input are dropped); a long-poll hands it back for the next request.
extension HTTPConnectionHandler: StreamOutput {
    func startStream(_ plan: StreamPlan, _ head: ParsedRequestHead) {
        let chunked = plan.framing.isChunked
        guard
            case .start(let keepAlive, let dropParser) = self.machine.streamStarting(
                ignoresInput: !plan.endsAfterFirstBatch,
                chunked: chunked
            )
        else { return }
        let subscriber = StreamSubscriber(
            framing: plan.framing,
            endsAfterFirstBatch: plan.endsAfterFirstBatch,
            loop: self.loop
        )
        var streamHead = self.allocator.buffer(capacity: 256)
        HTTP1ResponseWriter.writeHead(
            status: .ok,
            contentType: plan.framing.contentType,
            framing: chunked ? .chunked : .close,
            keepAlive: keepAlive,
            isHTTP10: head.isHTTP10,
            extraHeaders: plan.headers,
            into: &streamHead
        )
        self.pendingStreamHead = streamHead
        self.subscriber = subscriber
        if dropParser { self.parser = nil }
        subscriber.start(plan.channels, writingTo: self)
        if let channel = self.context?.channel {
            self.loop.verified.add(channel, as: plan.channels.first?.member)
        }
        // (A long-poll answered by its catch-up has ended already: nothing to renew, no timer.)
        if let renewal = plan.renewal, self.subscriber === subscriber { self.renew(renewal, subscriber) }
    }

    var allocator: ByteBufferAllocator { self.context?.channel.allocator ?? ByteBufferAllocator() }

    /// Kept by the state machine from `channelWritabilityChanged`: no atomic load per message.
    var isWritable: Bool { self.machine.isWritable && self.context != nil }

    func flush() {
        self.flushIfNeeded()
    }

    func recordCut(_ reason: CutReason, transport: String, detail: String) {
        let name = self.isHTTP2Stream ? "h2 " + transport : transport
        self.loop.cuts.record(reason, peer: self.context?.channel.remoteAddress, transport: name, detail: detail)
    }

    func flushSoon() {
        if self.pendingFlush.burstEnded() { self.loop.flushAtEndOfTick(self) }
    }

    func streamWillStart() {
        if let head = self.pendingStreamHead {
            self.pendingStreamHead = nil
            self.write(head)
        }
    }

    func streamDidEnd(_ end: StreamEnd) {
        self.subscriber = nil
        self.renewal?.cancel()
        self.renewal = nil
        self.statsStream = nil
        self.pendingStreamHead = nil
        let ending: StateMachine.StreamEnding
        switch end {
        case .completed(let reusable): ending = .completed(reusable: reusable)
        case .cut: ending = .cut
        case .refused: ending = .refused
        }
        switch self.machine.streamEnded(ending, tick: self.loop.tick) {
        case .none: break
        case .continueWithNextRequest: self.continueAfterAnswer()
        case .closeAfterWrites: self.closeAfterWrites()
        case .closeNow: self.context?.close(promise: nil)
        case .refuseAndClose:
            if case .refused(let error) = end { self.refuseAndClose(error) }
        }
    }
}
