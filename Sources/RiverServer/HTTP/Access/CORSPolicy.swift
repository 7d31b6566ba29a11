/// Which web origins may use River from a browser (`allowed_origins`), the
/// CORS headers (https://fetch.spec.whatwg.org/#http-cors-protocol) that say
/// so, and which origins a browser's cookie is believed from.
///
/// Two kinds of entries:
/// - `*`: every origin may read River's answers, *without credentials*:
///   responses say `Access-Control-Allow-Origin: *` and never
///   `Access-Control-Allow-Credentials`, so a browser refuses to show another
///   site a response to a request that carried the visitor's cookie;
/// - origins listed by name (`https://app.example`): their requests are
///   answered with the origin echoed and `Access-Control-Allow-Credentials:
///   true`, and the `river_token` cookie counts for them.
///
/// Both may be combined (`* https://app.example`). An `Origin` matching no
/// entry is refused (403); requests without `Origin` (curl, servers) never
/// are. Origins are compared byte for byte.
public struct CORSPolicy: Sendable, Equatable {
    /// `*` is among the entries: every origin, without credentials.
    let allowsEveryOrigin: Bool
    /// Origins listed by name, as browsers send them (`https://example.com:8443`).
    let origins: [String]

    /// The request headers a preflight allows: a fixed list, never an echo of
    /// what was asked for.
    static let allowedRequestHeaders = "Authorization, Content-Type, Last-Event-ID, X-River-Secret"
    static let allowedMethods = "GET, POST, DELETE, OPTIONS"

    /// Parses `*` and origins, separated by commas or spaces.
    init(_ configured: String) throws(ConfigurationError) {
        let entries = configured.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !entries.isEmpty else { throw ConfigurationError("a value is required") }
        var origins: [String] = []
        for entry in entries where !entry.utf8Equals("*") {
            guard entry.utf8HasPrefix("http://") || entry.utf8HasPrefix("https://"),
                entry.utf8.last != UInt8(ascii: "/")
            else {
                throw ConfigurationError("'\(entry)' is not an origin like https://example.com (or *)")
            }
            origins.append(entry)
        }
        self.allowsEveryOrigin = entries.contains { $0.utf8Equals("*") }
        self.origins = origins
    }

    static let everyOrigin = try! CORSPolicy("*")

    /// Whether a request with this `Origin` may be answered at all.
    func allows(_ origin: String) -> Bool {
        self.allowsEveryOrigin || self.isListed(origin)
    }

    /// Whether `origin` is listed by name (not merely allowed by `*`).
    func isListed(_ origin: String) -> Bool {
        self.origins.contains { $0.utf8Equals(origin) }
    }

    /// Whether a `river_token` cookie on a request from `origin` may count:
    /// without `Origin` (not a cross-origin browser request) or from an origin
    /// listed by name. A cookie that arrives with any other origin is the
    /// visitor's, sent by a page that is not the application's.
    func trustsCookies(from origin: String?) -> Bool {
        guard let origin else { return true }
        return self.isListed(origin)
    }

    /// Headers for a response to a request from `origin` (none without one).
    func responseHeaders(for origin: String?) -> [(String, String)] {
        guard let origin else { return [] }
        if self.isListed(origin) {
            return [
                ("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true"),
                ("Vary", "Origin"),
            ]
        }
        return self.allowsEveryOrigin ? [("Access-Control-Allow-Origin", "*")] : []
    }

    /// Headers answering a preflight (`OPTIONS` with `Access-Control-Request-Method`).
    func preflightHeaders(for head: ParsedRequestHead) -> [(String, String)] {
        self.responseHeaders(for: head.origin) + [
            ("Access-Control-Allow-Methods", Self.allowedMethods),
            ("Access-Control-Allow-Headers", Self.allowedRequestHeaders),
            ("Access-Control-Max-Age", "600"),
        ]
    }
}
