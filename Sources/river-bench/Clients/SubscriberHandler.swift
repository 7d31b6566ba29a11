import NIOCore

/// One subscriber connection: sends its subscribe request (or WebSocket
/// handshake), then counts messages as they stream in (and, when it knows
/// how many it is due, whether it got exactly those).
final class SubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private var framing: StreamFraming
    private let tally: Tally
    private let latency: LatencyRecorder?
    private var quota: DeliveryQuota
    private var subscribed = false

    init(
        request: ByteBuffer,
        framing: StreamFraming.Framing,
        tally: Tally,
        latency: LatencyRecorder?,
        expected: Int? = nil
    ) {
        self.request = request
        self.framing = StreamFraming(framing: framing, capturesPayload: latency != nil)
        self.tally = tally
        self.latency = latency
        self.quota = DeliveryQuota(expected: expected)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.tally.receivedBytes.wrappingIncrement(by: buffer.readableBytes, ordering: .relaxed)
        let result: (messages: Int, ended: Bool)
        if let latency = self.latency {
            result = self.framing.consume(buffer) { latency.record(payload: $0) }
        } else {
            result = self.framing.consume(buffer)
        }
        if !self.subscribed && self.framing.status != 0 {
            self.subscribed = true
            if self.framing.status == 200 || self.framing.status == 101 {
                self.tally.subscribed.wrappingIncrement(ordering: .relaxed)
            } else {
                self.tally.failed.wrappingIncrement(ordering: .relaxed)
                context.close(promise: nil)
                return
            }
        }
        if result.messages > 0 {
            self.tally.received.wrappingIncrement(by: result.messages, ordering: .relaxed)
            self.quota.add(result.messages, to: self.tally)
        }
        if result.ended {
            if !self.tally.isStopped { self.tally.endedEarly.wrappingIncrement(ordering: .relaxed) }
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// A River long-poll subscriber (`keep=0`): each response carries one message
/// (or a catch-up batch); the next poll resumes from the last seq seen.
final class LongPollSubscriberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let target: Target
    private let channel: String
    private let tally: Tally
    private let latency: LatencyRecorder?
    private var framing = StreamFraming(framing: .chunked, capturesPayload: true)
    private var lastSeq: UInt64 = 0
    private var subscribed = false

    init(target: Target, channel: String, tally: Tally, latency: LatencyRecorder?) {
        self.target = target
        self.channel = channel
        self.tally = tally
        self.latency = latency
    }

    func channelActive(context: ChannelHandlerContext) {
        self.poll(context: context)
    }

    private func poll(context: ChannelHandlerContext) {
        self.framing = StreamFraming(framing: .chunked, capturesPayload: true)
        let request = self.target.subscribeRequest(.longPoll, channel: self.channel, seq: self.lastSeq)
        context.writeAndFlush(self.wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let result = self.framing.consume(self.unwrapInboundIn(data)) { payload in
            if let seq = Self.seq(in: payload) { self.lastSeq = seq }
            self.latency?.record(payload: payload)
        }
        if !self.subscribed && self.framing.status != 0 {
            self.subscribed = true
            self.tally.subscribed.wrappingIncrement(ordering: .relaxed)
        }
        if result.messages > 0 {
            self.tally.received.wrappingIncrement(by: result.messages, ordering: .relaxed)
        }
        if result.ended && !self.tally.isStopped {
            self.poll(context: context)
        }
    }

    /// The number after `"seq": ` in a river JSON message.
    static func seq(in payload: UnsafeRawBufferPointer) -> UInt64? {
        let marker = Array("\"seq\": ".utf8)
        var index = 0
        while index + marker.count < payload.count {
            if payload[index] == marker[0] && (0..<marker.count).allSatisfy({ payload[index + $0] == marker[$0] }) {
                var value: UInt64 = 0
                var cursor = index + marker.count
                while cursor < payload.count, payload[cursor] >= 48, payload[cursor] <= 57 {
                    value = value * 10 + UInt64(payload[cursor] - 48)
                    cursor += 1
                }
                return value
            }
            index += 1
        }
        return nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension SubscriberHandler: Sendable {}

@available(*, unavailable)
extension LongPollSubscriberHandler: Sendable {}
