import NIOCore
import RiverCore

/// What `POST /tokens/revoke` names: the token's `jti` and its `exp`, until
/// which River refuses it. Either a JSON object, `{"jti": "t-81", "exp":
/// 1767225600}`, or form fields `jti=t-81&exp=1767225600` (in a form body or
/// the query). `jti` is 1 to `TokenVerifier.maxTokenBytes` bytes of UTF-8,
/// matched byte for byte; `exp` is required (seconds since 1970, as in the token).
struct TokenRevocation: Equatable {
    let id: String
    let expires: Int64

    init(id: String, expires: Int64) {
        self.id = id
        self.expires = expires
    }

    init(_ request: ParsedRequest) throws(RequestError) {
        let head = request.head
        let id: String?
        let expires: Double?
        if request.body.readableBytes > 0 && !head.isFormEncoded {
            let document: JSONValue
            do {
                document = try JSONParser.parse(Array(request.body.readableBytesView), maxDepth: 4)
            } catch {
                throw .badRequest("the body is not a JSON object: \(error)")
            }
            guard case .object = document else { throw .badRequest("the body is not a JSON object") }
            guard case .string(let text)? = document["jti"] ?? .string("") else {
                throw .badRequest("jti is not a string")
            }
            id = text.isEmpty ? nil : text
            switch document["exp"] {
            case .number(let text)?: expires = Double(text)
            case nil, .null?: expires = nil
            default: throw .badRequest("exp is not a number")
            }
        } else {
            let parameters = RequestParameters(query: head.query, formBody: head.isFormEncoded ? request.body : nil)
            id = try parameters.string("jti").flatMap { $0.isEmpty ? nil : $0 }
            expires = try parameters.string("exp").map { text throws(RequestError) in
                guard let number = Double(text) else { throw .invalidParameter("exp", "not a number") }
                return number
            }
        }
        guard let id else { throw .badRequest("jti is required: the id of the token to revoke") }
        guard id.utf8.count <= TokenVerifier.maxTokenBytes else {
            throw .badRequest("jti is longer than \(TokenVerifier.maxTokenBytes) bytes")
        }
        guard let expires else {
            throw .badRequest("exp is required: the token's expiry, until which it is refused")
        }
        do {
            self.init(id: id, expires: try CheckedNumber.seconds(expires, in: AccessToken.timeRange))
        } catch {
            throw .badRequest("exp is not a time: \(error)")
        }
    }
}
