/// What a subscriber receives for each message, from the `format` parameter
/// of `/subscribe`, `/sse` and `/websocket`.
enum MessageFormat: Equatable {
    /// The river JSON, `["msg", {"channel": ..., "seq": ..., "data": ...}]` (the default).
    case river
    /// The message body as it was published (`format=raw`): a WebSocket text
    /// or binary frame, an HTTP chunk, a long-poll's body, SSE data lines.
    case raw

    /// The `format` parameter: `river` (or absent) or `raw`.
    init(_ parameters: RequestParameters) throws(RequestError) {
        switch try parameters.string("format") {
        case nil, "river"?: self = .river
        case "raw"?: self = .raw
        case let other?:
            throw .invalidParameter(
                "format",
                "expected river or raw, got '\(other.prefix(CheckedNumber.quotedLength))'"
            )
        }
    }
}
