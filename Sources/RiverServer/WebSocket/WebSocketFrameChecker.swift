import NIOCore
import NIOWebSocket

/// Checks each frame a WebSocket client sends against RFC 6455 section 5
/// (https://www.rfc-editor.org/rfc/rfc6455#section-5.2) before
/// `NIOWebSocketFrameAggregator` joins fragments: client frames are masked;
/// RSV2 and RSV3 are never set (River negotiates no extension that uses
/// them); RSV1 is set only with permessage-deflate, and only on the first
/// frame of a data message (RFC 7692 section 6). A frame that breaks a rule
/// is dropped and reported as a `Violation`, which fails the connection with
/// 1002.
///
/// The aggregator cannot carry RSV1 of a fragmented message through, so the
/// checker remembers it: `messageIsCompressed` is the flag of the data
/// message whose frames were read last, which is the one the connection
/// handler is receiving.
final class WebSocketFrameChecker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// A frame River refuses; `reason` goes into the close frame.
    struct Violation: Error, Equatable {
        let reason: String
    }

    /// The most fragments one message may come in. Autobahn sends 4 MiB in
    /// 64-byte fragments (65,536 of them); more is refused with 1009, so
    /// endless empty fragments cannot grow a connection without bound.
    static let maxFragments = 1 << 16

    private let compressionNegotiated: Bool
    /// Whether the data message being received has RSV1 set.
    private(set) var messageIsCompressed = false
    /// Set once a frame was refused: nothing more is passed on but close frames.
    private var failed = false

    init(compressionNegotiated: Bool) {
        self.compressionNegotiated = compressionNegotiated
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        if self.failed && frame.opcode != .connectionClose { return }
        if let violation = self.check(frame) {
            self.failed = true
            context.fireErrorCaught(violation)
            return
        }
        context.fireChannelRead(data)
    }

    private func check(_ frame: WebSocketFrame) -> Violation? {
        guard frame.maskKey != nil else { return Violation(reason: "client frames must be masked") }
        guard !frame.rsv2 && !frame.rsv3 else { return Violation(reason: "reserved bits set (RSV2/RSV3)") }
        switch frame.opcode {
        case .text, .binary:
            if frame.rsv1 && !self.compressionNegotiated {
                return Violation(reason: "reserved bit set (RSV1) without permessage-deflate")
            }
            self.messageIsCompressed = frame.rsv1
        case .continuation, .ping, .pong, .connectionClose:
            if frame.rsv1 { return Violation(reason: "RSV1 set on a continuation or control frame") }
        default:
            return Violation(reason: "reserved opcode \(frame.opcode)")
        }
        return nil
    }
}

@available(*, unavailable)
extension WebSocketFrameChecker: Sendable {}
