/// The byte shapes a message takes on the wire. Each is built at most once per
/// message per event loop and shared by every subscriber that speaks it.
public enum WireFormat: Sendable, Hashable {
    /// The river JSON as one HTTP/1.1 chunk (`/subscribe` streaming and long-poll).
    case chunk
    /// The river JSON followed by CRLF, unframed (HTTP/1.0 clients, which have no chunking).
    case line
    /// The bare river JSON (JSONP wraps it in a per-subscriber callback).
    case json
    /// A Server-Sent Events event: `id:` + `data:` lines of the payload
    /// (`event: binary` and the payload in base64 for a binary message).
    case eventStream
    /// The river JSON as a Server-Sent Events `data:` line and the blank line
    /// that ends the event: a multi-channel stream writes its own `id:` (the
    /// connection's cursor) before it.
    case eventStreamJSON
    /// A WebSocket text frame carrying the river JSON.
    case webSocketText
    /// The payload as published, as one HTTP/1.1 chunk (`format=raw`).
    case rawChunk
    /// A WebSocket frame carrying the payload as published (`format=raw`): a
    /// text frame, or a binary frame for a binary message.
    case webSocketRaw
    /// `webSocketText` or `webSocketRaw` (`raw`) compressed with permessage-deflate
    /// (RFC 7692) with a window of 2^`windowBits` bytes.
    case webSocketDeflated(raw: Bool, windowBits: Int)
}
