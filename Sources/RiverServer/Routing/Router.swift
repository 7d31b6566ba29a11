/// Maps a request path to a `Route`. Pure: no I/O, no state.
public enum Router {
    public static func route(_ path: String) -> Route {
        switch path {
        case "/subscribe": return .subscribe
        case "/publish": return .publish
        default: return .notFound
        }
    }
}
