import CompressNIO
import NIOCore

/// A WebSocket client that publishes to its own channel by sending text
/// frames and counts the same messages coming back, keeping up to `window`
/// of them in flight. Every frame it sends is the same pre-masked buffer
/// (compressed once with permessage-deflate when `compressed`).
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: ByteBuffer
    private let frame: ByteBuffer
    private let count: Int
    private let window: Int
    private let tally: Tally
    private let done: EventLoopPromise<Void>
    private var framing = StreamFraming(framing: .webSocket)
    private var sent = 0
    private var received = 0
    private var open = false

    init(
        handshake: ByteBuffer,
        message: String,
        compressed: Bool,
        count: Int,
        window: Int,
        tally: Tally,
        done: EventLoopPromise<Void>
    ) {
        self.handshake = handshake
        self.frame = Self.maskedTextFrame(Array(message.utf8), compressed: compressed)
        self.count = count
        self.window = window
        self.tally = tally
        self.done = done
    }

    /// RFC 6455 section 5.3: client frames are masked. RFC 7692: a
    /// compressed frame has RSV1 set and its payload deflated.
    static func maskedTextFrame(_ text: [UInt8], compressed: Bool = false) -> ByteBuffer {
        let payload = compressed ? Self.deflate(text) : text
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(compressed ? 0xC1 : 0x81))
        if payload.count < 126 {
            frame.writeInteger(UInt8(0x80 | payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        }
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return frame
    }

    /// `bytes` deflated as one permessage-deflate message (the sync flush's tail removed).
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        do {
            let compressor = try ZlibCompressor(algorithm: .deflate)
            var input = ByteBuffer(bytes: bytes)
            var output = ByteBuffer()
            output.reserveCapacity(compressor.maxSize(from: input))
            try compressor.deflate(from: &input, to: &output, flush: .sync)
            return Array(output.readableBytesView.dropLast(4))
        } catch {
            preconditionFailure("deflate failed: \(error)")
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(self.handshake), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let result = self.framing.consume(self.unwrapInboundIn(data))
        if !self.open && self.framing.status != 0 {
            guard self.framing.status == 101 else {
                self.tally.failed.wrappingIncrement(ordering: .relaxed)
                self.done.succeed()
                context.close(promise: nil)
                return
            }
            self.open = true
            self.tally.subscribed.wrappingIncrement(ordering: .relaxed)
            self.refill(context: context)
        }
        if result.messages > 0 {
            self.received += result.messages
            self.tally.received.wrappingIncrement(by: result.messages, ordering: .relaxed)
            if self.received >= self.count {
                self.done.succeed()
                context.close(promise: nil)
                return
            }
            self.refill(context: context)
        }
        if result.ended {
            self.tally.endedEarly.wrappingIncrement(ordering: .relaxed)
            self.done.succeed()
            context.close(promise: nil)
        }
    }

    private func refill(context: ChannelHandlerContext) {
        var wrote = false
        while self.sent < self.count && self.sent - self.received < self.window {
            context.write(self.wrapOutboundOut(self.frame), promise: nil)
            self.sent += 1
            wrote = true
        }
        if wrote { context.flush() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.done.succeed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension WebSocketEchoHandler: Sendable {}
