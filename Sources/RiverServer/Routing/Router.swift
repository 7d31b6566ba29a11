/// Maps a request path to a `Route`. Pure: no I/O, no state.
public enum Router {
    public static func route(_ path: String) -> Route {
        switch path {
        case "/subscribe": return .subscribe
        case "/publish": return .publish
        case "/sse": return .eventSource
        case "/websocket": return .webSocket
        case "/presence": return .presence
        case "/lib.js": return .staticFile("lib.js")
        case "/iframe", "/iframe.html": return .staticFile("iframe.html")
        case "/crossdomain.xml": return .staticFile("crossdomain.xml")
        case "/chat", "/chat/": return .staticFile("chat/index.html")
        case "/channels", "/channels/": return .channelList
        case "/stats": return .stats
        case "/stats/stream": return .statsStream
        case "/dashboard": return .dashboard
        case "/metrics": return .metrics
        case "/tokens/revoke": return .tokenRevoke
        case "/health": return .health
        default:
            if path.hasPrefix("/channels/") {
                return .channel(String(path.dropFirst("/channels/".count)))
            }
            if path.hasPrefix("/users/") && path.hasSuffix("/disconnect") && path.count > "/users//disconnect".count {
                return .userDisconnect(String(path.dropFirst("/users/".count).dropLast("/disconnect".count)))
            }
            if path.hasPrefix("/chat/") {
                return .staticFile("chat/" + path.dropFirst("/chat/".count))
            }
            return .notFound
        }
    }
}
