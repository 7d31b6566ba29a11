import NIOCore

/// The secret and token a request presents, wherever it put them.
struct Credentials {
    var secret: String?
    var token: String?

    init(_ request: HTTPRequest) throws(RequestError) {
        let head = request.head
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        var secret = head.publishSecret
        if secret == nil { secret = try parameters.string("secret") }
        self.secret = secret
        var token = try parameters.string("token")
        if token == nil, let authorization = head.authorization,
            authorization.count > 7, authorization.prefix(7).lowercased() == "bearer "
        {
            token = String(authorization.dropFirst(7))
        }
        if token == nil, let cookie = head.cookie {
            token = Self.cookie("river_token", in: cookie)
        }
        self.token = token
    }

    private static func cookie(_ name: String, in header: String) -> String? {
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 && parts[0].trimmingSpaces == name[...] { return String(parts[1].trimmingSpaces) }
        }
        return nil
    }
}
