import NIOCore

/// The secret and tokens a request presents, kept apart by how they came.
///
/// The difference matters: a secret or token in a header or a parameter was
/// put there by the page or program making the request, which therefore
/// holds it; a cookie is sent by the browser on its own, whichever site made
/// the request. So `AccessPolicy` lets `cookieToken` authorize reading only,
/// and only when `CORSPolicy.trustsCookies(from:)` says the request's origin
/// is the application's (cross-site request forgery cannot use it).
struct Credentials {
    /// `X-River-Secret`, else the `secret` parameter.
    var secret: String?
    /// The `token` parameter, else `Authorization: Bearer`.
    var token: String?
    /// The `river_token` cookie.
    var cookieToken: String?

    static let cookieName = "river_token"

    init(_ request: ParsedRequest) throws(RequestError) {
        let head = request.head
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        var secret = head.publishSecret
        if secret == nil { secret = try parameters.string("secret") }
        self.secret = secret
        var token = try parameters.string("token")
        if token == nil, let authorization = head.authorization {
            token = Self.bearerToken(authorization)
        }
        self.token = token
        self.cookieToken = head.cookie.flatMap { Self.cookie(Self.cookieName, in: $0) }
    }

    /// The credentials of `Authorization: Bearer TOKEN` (the scheme is case-insensitive, RFC 9110 section 11.1).
    private static func bearerToken(_ authorization: String) -> String? {
        let bytes = Array(authorization.utf8)
        guard bytes.count > 7, String(decoding: bytes[0..<7], as: UTF8.self).lowercased() == "bearer " else {
            return nil
        }
        return String(decoding: bytes[7...], as: UTF8.self)
    }

    private static func cookie(_ name: String, in header: String) -> String? {
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 && String(parts[0].trimmingSpaces).utf8Equals(name) {
                return String(parts[1].trimmingSpaces)
            }
        }
        return nil
    }
}
