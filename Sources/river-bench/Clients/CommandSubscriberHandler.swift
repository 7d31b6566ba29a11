import NIOCore

/// A `river.v2` WebSocket subscribed to several channels by command: after
/// the handshake it sends one `subscribe` per channel in one write, counts
/// itself subscribed once every `ok` is in (an `error` fails it), then counts
/// `msg` frames against what it is due, and presence `join` and `leave` events
/// (with `fields` `, "presence": true`).
final class CommandSubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: ByteBuffer
    private let channels: [String]
    private let fields: String
    private let tally: Tally
    private var framing = StreamFraming(framing: .webSocket, capturesPayload: true, payloadPrefix: CommandFrame.prefix)
    private var quota: DeliveryQuota
    private var open = false
    private var acknowledged = 0
    private var failed = false

    init(handshake: ByteBuffer, channels: [String], fields: String = "", tally: Tally, expected: Int?) {
        self.handshake = handshake
        self.channels = channels
        self.fields = fields
        self.tally = tally
        self.quota = DeliveryQuota(expected: expected)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.handshake), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.tally.receivedBytes.wrappingIncrement(by: buffer.readableBytes, ordering: .relaxed)
        var oks = 0
        var messages = 0
        var errors = 0
        var joins = 0
        var leaves = 0
        let result = self.framing.consume(buffer) { payload in
            switch CommandFrame(payload) {
            case .ok: oks += 1
            case .message: messages += 1
            case .error: errors += 1
            case .join: joins += 1
            case .leave: leaves += 1
            case .other: break
            }
        }
        if !self.open && self.framing.status != 0 {
            self.open = true
            guard self.framing.status == 101 else { return self.fail(context: context) }
            for (index, channel) in self.channels.enumerated() {
                context.write(
                    self.wrapOutboundOut(
                        CommandFrame.command("subscribe", id: index, channel: channel, fields: self.fields)
                    ),
                    promise: nil
                )
            }
            context.flush()
        }
        if errors > 0 { return self.fail(context: context) }
        if oks > 0 {
            self.acknowledged += oks
            if self.acknowledged == self.channels.count {
                self.tally.subscribed.wrappingIncrement(ordering: .relaxed)
            }
        }
        if joins > 0 { self.tally.joins.wrappingIncrement(by: joins, ordering: .relaxed) }
        if leaves > 0 { self.tally.leaves.wrappingIncrement(by: leaves, ordering: .relaxed) }
        if messages > 0 {
            self.tally.received.wrappingIncrement(by: messages, ordering: .relaxed)
            self.quota.add(messages, to: self.tally)
        }
        if result.ended {
            if !self.tally.isStopped { self.tally.endedEarly.wrappingIncrement(ordering: .relaxed) }
            context.close(promise: nil)
        }
    }

    private func fail(context: ChannelHandlerContext) {
        guard !self.failed else { return }
        self.failed = true
        self.tally.failed.wrappingIncrement(ordering: .relaxed)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension CommandSubscriberHandler: Sendable {}
