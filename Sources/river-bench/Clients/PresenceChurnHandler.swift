import NIOCore

/// One client of a presence churn: a `river.v2` WebSocket that, as `user`,
/// subscribes to a channel, unsubscribes once that is acknowledged, and goes
/// on to the next channel of `channels` (starting at `first`) until it has
/// done `cycles` (or the run stops). Each cycle is one join and one leave.
/// With an `interval` it paces itself: cycle k starts no sooner than k ×
/// interval after the first. An `error` reply fails the client.
final class PresenceChurnHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: ByteBuffer
    private let userField: String
    private let channels: [String]
    private let first: Int
    private let cycles: Int
    private let interval: TimeAmount?
    private let tally: Tally
    private let done: EventLoopPromise<Void>
    private var framing = StreamFraming(framing: .webSocket, capturesPayload: true, payloadPrefix: CommandFrame.prefix)
    private var open = false
    private var completed = 0
    private var joined = false
    private var finished = false
    private var startedAt = NIODeadline.now()

    init(
        handshake: ByteBuffer,
        user: String,
        channels: [String],
        first: Int,
        cycles: Int,
        interval: TimeAmount?,
        tally: Tally,
        done: EventLoopPromise<Void>
    ) {
        self.handshake = handshake
        self.userField = ", \"user\": " + CommandFrame.jsonString(user)
        self.channels = channels
        self.first = first
        self.cycles = cycles
        self.interval = interval
        self.tally = tally
        self.done = done
    }

    private var channel: String { self.channels[(self.first + self.completed) % self.channels.count] }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.handshake), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var oks = 0
        var errors = 0
        let result = self.framing.consume(self.unwrapInboundIn(data)) { payload in
            switch CommandFrame(payload) {
            case .ok: oks += 1
            case .error: errors += 1
            default: break
            }
        }
        if !self.open && self.framing.status != 0 {
            self.open = true
            guard self.framing.status == 101 else { return self.finish(context: context, failed: true) }
            self.startedAt = .now()
            self.join(context: context)
        }
        if errors > 0 || result.ended { return self.finish(context: context, failed: true) }
        // One command is in flight at a time: each `ok` answers it.
        for _ in 0..<oks where !self.finished {
            if self.joined {
                self.joined = false
                self.completed += 1
                self.tally.cycles.wrappingIncrement(ordering: .relaxed)
                self.next(context: context)
            } else {
                self.joined = true
                self.send("unsubscribe", context: context)
            }
        }
    }

    /// The next cycle now, later when paced and ahead of time, or the end.
    private func next(context: ChannelHandlerContext) {
        guard self.completed < self.cycles, !self.tally.isStopped else {
            return self.finish(context: context, failed: false)
        }
        guard let interval = self.interval else { return self.join(context: context) }
        let due = self.startedAt + interval * Int64(self.completed)
        guard due > .now() else { return self.join(context: context) }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: due) {
            guard !handler.value.finished else { return }
            handler.value.join(context: bound.value)
        }
    }

    private func join(context: ChannelHandlerContext) {
        self.send("subscribe", fields: self.userField, context: context)
    }

    private func send(_ command: String, fields: String = "", context: ChannelHandlerContext) {
        let id = self.completed * 2 + (self.joined ? 1 : 0)
        context.writeAndFlush(
            self.wrapOutboundOut(CommandFrame.command(command, id: id, channel: self.channel, fields: fields)),
            promise: nil
        )
    }

    private func finish(context: ChannelHandlerContext, failed: Bool) {
        guard !self.finished else { return }
        self.finished = true
        if failed { self.tally.failed.wrappingIncrement(ordering: .relaxed) }
        self.done.succeed()
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.finished {
            self.finished = true
            if !self.tally.isStopped { self.tally.failed.wrappingIncrement(ordering: .relaxed) }
            self.done.succeed()
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension PresenceChurnHandler: Sendable {}
