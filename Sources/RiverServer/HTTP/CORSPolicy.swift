/// Which web origins may use River from a browser (`allowed_origins`), and
/// the CORS headers (https://fetch.spec.whatwg.org/#http-cors-protocol) that
/// say so. Requests without an `Origin` (curl, servers) are never refused.
public struct CORSPolicy: Sendable, Equatable {
    /// `*`: every origin.
    let allowsEveryOrigin: Bool
    /// Allowed origins, as browsers send them (`https://example.com:8443`).
    let origins: Set<String>

    /// Parses `*` or a list of origins separated by commas or spaces.
    init(_ configured: String) throws(ConfigurationError) {
        let entries = configured.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !entries.isEmpty else { throw ConfigurationError("a value is required") }
        if entries == ["*"] {
            self.allowsEveryOrigin = true
            self.origins = []
            return
        }
        for entry in entries where !(entry.hasPrefix("http://") || entry.hasPrefix("https://")) || entry.hasSuffix("/")
        {
            throw ConfigurationError("'\(entry)' is not an origin like https://example.com (or *)")
        }
        self.allowsEveryOrigin = false
        self.origins = Set(entries)
    }

    static let everyOrigin = try! CORSPolicy("*")

    func allows(_ origin: String) -> Bool {
        self.allowsEveryOrigin || self.origins.contains(origin)
    }

    /// Headers for a response to an allowed `origin`. The origin is echoed
    /// (rather than `*`) so credentialed requests — a token cookie — work too.
    func responseHeaders(for origin: String?) -> [(String, String)] {
        guard let origin, self.allows(origin) else { return [] }
        return [
            ("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"), ("Vary", "Origin"),
        ]
    }

    /// Headers answering a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    func preflightHeaders(for head: HTTPRequestHead) -> [(String, String)] {
        var headers = self.responseHeaders(for: head.origin)
        headers.append(("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"))
        headers.append(
            ("Access-Control-Allow-Headers", head.accessControlRequestHeaders ?? "Content-Type, Last-Event-ID")
        )
        headers.append(("Access-Control-Max-Age", "600"))
        return headers
    }
}
