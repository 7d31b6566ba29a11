import NIOHTTP2

/// Which of swift-nio-http2's errors end one stream, not the connection: a
/// request whose body does not match its `content-length`, or trailers that do
/// not end their stream (RFC 9113 section 8.1.1). `NIOHTTP2Handler` has already
/// answered it with RST_STREAM PROTOCOL_ERROR and then reports it; the
/// connection and its other streams go on. (The header fields themselves are
/// River's to check: `HTTP2ConnectionHandler+MalformedRequests`, which also
/// counts these.) Any error not named here closes the connection.
enum HTTP2StreamErrors {
    static func endsOnlyItsStream(_ error: Error) -> Bool {
        switch error {
        case is NIOHTTP2Errors.TrailersWithoutEndStream, is NIOHTTP2Errors.ContentLengthViolated,
            is NIOHTTP2Errors.ContentLengthHeadersMismatch, is NIOHTTP2Errors.ContentLengthHeaderNegative,
            is NIOHTTP2Errors.ContentLengthHeaderMalformedValue:
            return true
        default:
            return false
        }
    }
}
