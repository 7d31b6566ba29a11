import NIOCore

extension EventLoop {
    /// Runs `body` on this loop and completes on `replyLoop`, the hop queued
    /// the moment `body`'s future completes.
    ///
    /// `submit { … }.hop(to:)` called from another loop does not guarantee
    /// that: its continuations are attached by tasks queued behind `body`,
    /// so this loop can send `replyLoop` other work (a batch of live
    /// messages) before the reply. A subscription must reach its hub before
    /// the first batch that was left out of its catch-up, or that batch
    /// finds no subscriber and the message is lost to it.
    public func submit<Value: Sendable>(
        replyingOn replyLoop: EventLoop,
        _ body: @escaping @Sendable () -> EventLoopFuture<Value>
    ) -> EventLoopFuture<Value> {
        if self === replyLoop && self.inEventLoop { return body() }
        let reply = replyLoop.makePromise(of: Value.self)
        self.execute { body().cascade(to: reply) }
        return reply.futureResult
    }
}
