/// What a request path asks for.
public enum Route: Equatable, Sendable {
    /// `/subscribe`: HTTP streaming, long-poll, JSONP.
    case subscribe
    /// `/publish`.
    case publish
    case notFound
}
