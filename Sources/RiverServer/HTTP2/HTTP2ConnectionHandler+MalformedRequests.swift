import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Malformed requests (RFC 9113 section 8.1.1): every HEADERS frame the peer
/// sends is checked here (`HTTP2FieldValidation`) before anything of River's
/// reads it. A malformed one resets its stream (`RST_STREAM PROTOCOL_ERROR`),
/// counted in `bad_requests`; the connection and its other streams go on. A
/// peer that provokes such resets in a loop (CVE-2025-8671, "made you reset")
/// is cut past `malformedRequestLimit`, with GOAWAY ENHANCE_YOUR_CALM; the
/// resets swift-nio-http2 makes itself (a wrong `content-length`) count too.
extension HTTP2ConnectionHandler {
    /// Malformed requests a connection may send before it is cut: swift-nio-http2's own
    /// bound on the stream errors a peer provokes (its "glitches").
    static let malformedRequestLimit = 200

    /// Whether `headers` on `stream` (its request when `opensStream`, else its trailers) are
    /// malformed and so refused: its stream is reset.
    func refusesMalformed(
        _ headers: HPACKHeaders,
        opensStream: Bool,
        on stream: HTTP2StreamID,
        context: ChannelHandlerContext
    ) -> Bool {
        let fault =
            opensStream
            ? HTTP2FieldValidation.requestFault(headers, extendedConnect: self.peerAcknowledgedSettings)
            : HTTP2FieldValidation.trailersFault(headers)
        guard let fault else { return false }
        self.server.logger.debug(
            "malformed HTTP/2 request: stream reset",
            metadata: ["peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(fault)"]
        )
        self.loop.counters.badRequests += 1
        if opensStream {
            // Held as a stream answered here until the reset closes it: nothing of it reaches a stream channel.
            self.directStreams.append(stream)
            self.streamStarted(stream)
        }
        let reset = HTTP2Frame(streamID: stream, payload: .rstStream(.protocolError))
        context.write(self.wrapOutboundOut(reset), promise: nil)
        if !self.isReading { context.flush() }
        self.countMalformedRequest(context: context)
        return true
    }

    /// One more malformed request: past the limit, GOAWAY ENHANCE_YOUR_CALM and the connection closes.
    func countMalformedRequest(context: ChannelHandlerContext) {
        self.malformedRequests += 1
        guard self.malformedRequests == Self.malformedRequestLimit + 1 else { return }
        self.loop.cuts.record(
            .protocolError,
            peer: context.channel.remoteAddress,
            transport: "h2",
            detail: "more than \(Self.malformedRequestLimit) malformed requests"
        )
        let goAway = HTTP2Frame(
            streamID: .rootStream,
            payload: .goAway(lastStreamID: self.lastStreamID, errorCode: .enhanceYourCalm, opaqueData: nil)
        )
        context.writeAndFlush(self.wrapOutboundOut(goAway), promise: nil)
        context.close(promise: nil)
    }
}
