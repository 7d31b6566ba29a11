import NIOCore
import NIOWebSocket
import RiverCore

/// WebSocket close status codes (RFC 6455 section 7.4,
/// https://www.rfc-editor.org/rfc/rfc6455#section-7.4): the ones River sends,
/// which one answers a client's close frame, and which one fails a
/// connection for each kind of bad input. Codes are read from a frame's first
/// two bytes and taken from NIOWebSocket's names with
/// `UInt16(webSocketErrorCode:)`, never converted from anything wider.
enum WebSocketClose {
    static let normal = UInt16(webSocketErrorCode: .normalClosure)
    static let goingAway = UInt16(webSocketErrorCode: .goingAway)
    static let protocolError = UInt16(webSocketErrorCode: .protocolError)
    static let invalidPayload = UInt16(webSocketErrorCode: .dataInconsistentWithMessage)
    static let policyViolation = UInt16(webSocketErrorCode: .policyViolation)
    static let messageTooLarge = UInt16(webSocketErrorCode: .messageTooLarge)
    static let unexpectedServerError = UInt16(webSocketErrorCode: .unexpectedServerError)

    /// A close for the peer's fault: a protocol error, a payload not as its frame said, a message too large.
    static func isProtocolFailure(_ code: UInt16) -> Bool {
        code == Self.protocolError || code == Self.invalidPayload || code == Self.messageTooLarge
    }

    /// The code to answer a close frame carrying `payload` (already unmasked)
    /// with (RFC 6455 section 5.5.1): none given, 1000; the client's own when
    /// it is one a peer may send and its reason is UTF-8; 1002 for a one-byte
    /// payload or a code no peer may send; 1007 for a reason that is not UTF-8.
    static func reply(toPayload payload: ByteBuffer) -> UInt16 {
        var payload = payload
        guard payload.readableBytes > 0 else { return Self.normal }  // no code given
        guard let code = payload.readInteger(as: UInt16.self) else { return Self.protocolError }  // one byte
        guard Self.maySend(code) else { return Self.protocolError }
        let reasonIsText = payload.withUnsafeReadableBytes { UTF8Validation.isValid($0) }
        return reasonIsText ? code : Self.invalidPayload
    }

    /// Codes an endpoint may put in a close frame (RFC 6455 section 7.4 and
    /// the IANA registry): 1000–1003, 1007–1014, and 3000–4999. 1004–1006 and
    /// 1015 are reserved or only for reporting; the rest is unassigned.
    static func maySend(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    /// The status and reason that fail a connection for an error its frame
    /// decoder, `WebSocketFrameChecker` or fragment aggregator reported:
    /// 1009 for what is too large, 1002 for the rest.
    static func status(for error: Error, maxMessageSize: Int) -> (code: UInt16, reason: String) {
        switch error {
        case NIOWebSocketError.invalidFrameLength,
            NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            return (Self.messageTooLarge, "message larger than \(maxMessageSize) bytes")
        case NIOWebSocketFrameAggregator.Error.tooManyFragments:
            return (Self.messageTooLarge, "more than \(WebSocketFrameChecker.maxFragments) fragments")
        case is NIOWebSocketFrameAggregator.Error:
            return (Self.protocolError, "fragments out of order")
        case let violation as WebSocketFrameChecker.Violation:
            return (Self.protocolError, violation.reason)
        case NIOWebSocketError.multiByteControlFrameLength:
            return (Self.protocolError, "control frame longer than 125 bytes")
        case NIOWebSocketError.fragmentedControlFrame:
            return (Self.protocolError, "fragmented control frame")
        default:
            return (Self.protocolError, "malformed frame")
        }
    }

    /// The close frame's status for why the server ends a stream.
    static func status(for reason: FinishReason?) -> (code: UInt16, reason: String) {
        switch reason {
        case .shutdown: return (Self.goingAway, "server shutting down")
        case .channelDeleted: return (Self.normal, "channel deleted")
        case .channelReset: return (Self.normal, "channel reset: resume with seq and epoch")
        case .timeout: return (Self.normal, "client_timeout")
        case .revoked: return (Self.policyViolation, "revoked")
        case .slowConsumer, nil: return (Self.normal, "")
        }
    }
}
