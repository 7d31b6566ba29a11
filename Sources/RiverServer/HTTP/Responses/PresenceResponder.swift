import NIOCore
import RiverCore

/// `GET /presence?name=C`: who is on a channel —
/// `{"channel": C, "connections": N, "users": U, "members": [{"user": ..., "info": {...}, "connections": 2}]}`,
/// members ordered by user and capped by `max_presence_members` (then
/// `"truncated": true`); a channel nobody is on answers zeros.
enum PresenceResponder {
    /// The channel asked about; 400 when the request is not a presence question.
    static func validate(
        _ request: ParsedRequest,
        configuration: RiverConfiguration
    ) throws(RequestError)
        -> ChannelName
    {
        let head = request.head
        guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET") }
        return try RequestParameters(query: head.query).channelName(maxBytes: configuration.maxChannelName)
    }

    static func response(_ snapshot: PresenceSnapshot, headers: [(String, String)]) -> CompleteResponse {
        var body = ByteBuffer()
        snapshot.writeJSON(into: &body)
        return CompleteResponse(
            status: .ok,
            contentType: "application/json",
            headers: [("Cache-Control", "no-cache")] + headers,
            body: body
        )
    }
}
