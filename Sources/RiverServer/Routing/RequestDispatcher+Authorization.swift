import NIOCore
import RiverCore

/// With `auth_url` (PROTOCOL.md C4), the dispatcher asks the application
/// after River's own checks: a request River refuses by itself is never
/// asked about, and one River allows must be allowed by the application too.
extension RequestDispatcher {
    /// Where the application's word on a request stands.
    enum Consultation {
        /// No `auth_url`: River decides alone.
        case notConfigured
        /// The application's outcome, cached or just answered.
        case decided(AuthOutcome)
        /// The application must be asked first (`Dispatch.authorize`).
        case ask(Dispatch)
    }

    /// The application's outcome on the question `question` builds: the one
    /// `authorize` brought (`decided`), a cached one, or the question to ask.
    func consult(
        _ decided: AuthOutcome?,
        verified: AccessToken?,
        _ question: () throws(RequestError) -> AuthQuestion
    ) throws(RequestError) -> Consultation {
        guard let authorizer = self.server.authorizer else { return .notConfigured }
        if let decided { return .decided(decided) }
        let question = try question()
        if let cached = authorizer.cachedOutcome(question) { return .decided(cached) }
        return .ask(.authorize(question, verified: verified))
    }

    /// Who asks, as `request` on `transport` presents itself.
    func asker(_ request: ParsedRequest, _ transport: String, _ verified: AccessToken?) throws(RequestError) -> AuthAsker {
        try AuthAsker(
            request,
            transport: transport,
            peer: self.peer,
            verified: verified,
            configuration: self.server.configuration
        )
    }
}

extension SubscribeRequest {
    /// The transport's name as the application is told it.
    var authTransport: String {
        switch self.transport {
        case .stream(_, let callback?) where !callback.isEmpty: "jsonp"
        case .stream(let keep, _): keep ? "stream" : "long-poll"
        case .eventStream: "sse"
        }
    }
}
