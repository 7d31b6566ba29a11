import NIOHTTP2

/// Which of swift-nio-http2's errors end one stream, not the connection: a
/// malformed request (RFC 9113 section 8.1.1). `NIOHTTP2Handler` has already
/// answered it with RST_STREAM PROTOCOL_ERROR and then reports it; the
/// connection and its other streams go on. (A peer that provokes such resets
/// in a loop — CVE-2025-8671 — is cut by the handler's own count of them: a
/// connection error, `ExcessiveNumberOfGlitches`, after 200.) Any error not
/// named here closes the connection.
enum HTTP2StreamErrors {
    static func endsOnlyItsStream(_ error: Error) -> Bool {
        switch error {
        case is NIOHTTP2Errors.MissingPseudoHeader, is NIOHTTP2Errors.DuplicatePseudoHeader,
            is NIOHTTP2Errors.PseudoHeaderAfterRegularHeader, is NIOHTTP2Errors.UnknownPseudoHeader,
            is NIOHTTP2Errors.UnsupportedPseudoHeader, is NIOHTTP2Errors.InvalidPseudoHeaders,
            is NIOHTTP2Errors.EmptyPathHeader, is NIOHTTP2Errors.InvalidPseudoHeaderValue,
            is NIOHTTP2Errors.InvalidHTTP2HeaderFieldName, is NIOHTTP2Errors.InvalidHTTP2HeaderFieldValue,
            is NIOHTTP2Errors.ForbiddenHeaderField, is NIOHTTP2Errors.TrailersWithoutEndStream,
            is NIOHTTP2Errors.ContentLengthViolated, is NIOHTTP2Errors.ContentLengthHeadersMismatch,
            is NIOHTTP2Errors.ContentLengthHeaderNegative, is NIOHTTP2Errors.ContentLengthHeaderMalformedValue:
            return true
        default:
            return false
        }
    }
}
