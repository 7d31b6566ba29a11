/// The byte shapes a message takes on the wire. Each is built at most once per
/// message per event loop and shared by every subscriber that speaks it.
public enum WireFormat: Sendable, Hashable {
    /// The river JSON as one HTTP/1.1 chunk (`/subscribe` streaming and long-poll).
    case chunk
    /// The river JSON followed by CRLF, unframed (HTTP/1.0 clients, which have no chunking).
    case line
    /// The bare river JSON (JSONP wraps it in a per-subscriber callback).
    case json
    /// A Server-Sent Events event: `id:` + `data:` lines of the payload.
    case eventStream
    /// A WebSocket text frame carrying the river JSON.
    case webSocketText
}
