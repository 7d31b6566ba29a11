/// What a request path asks for.
public enum Route: Equatable, Sendable {
    /// `/subscribe`: HTTP streaming, long-poll, JSONP (or SSE by `Accept`).
    case subscribe
    /// `/publish`.
    case publish
    /// `/sse`: Server-Sent Events.
    case eventSource
    /// `/websocket`: RFC 6455.
    case webSocket
    /// `/presence`: who is on a channel.
    case presence
    /// `/channels/NAME` (the name still percent-encoded).
    case channel(String)
    /// `/channels`: the listing.
    case channelList
    /// `/users/U/disconnect` (the user still percent-encoded): end every connection of U.
    case userDisconnect(String)
    /// `/tokens/revoke`: refuse a token (by `jti`) until it expires, and end its connections.
    case tokenRevoke
    case stats
    /// `/stats/stream`: the dashboard's samples as Server-Sent Events.
    case statsStream
    /// `/dashboard`: the operator's page.
    case dashboard
    case metrics
    case health
    /// A file under the public directory (`lib.js`, `chat/index.html`, ...).
    case staticFile(String)
    case notFound

    /// The operator's routes, which `admin_port` moves to a listener of their own.
    var isAdmin: Bool {
        switch self {
        case .channel, .channelList, .userDisconnect, .tokenRevoke, .stats, .statsStream, .dashboard, .metrics:
            return true
        default: return false
        }
    }
}
