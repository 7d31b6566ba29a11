import NIOCore
import RiverCore

/// The status code River answers a client's close frame with
/// (https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1): the client's own
/// code when it is one a peer may send, else a protocol error. The code is
/// read from the frame's first two bytes, never converted from anything wider.
enum WebSocketClose {
    static let normal: UInt16 = 1000
    static let protocolError: UInt16 = 1002
    static let invalidPayload: UInt16 = 1007

    /// The code to echo for a close frame carrying `payload` (already unmasked).
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
}
