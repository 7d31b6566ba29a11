import RiverCore

/// The JOSE header of a token (RFC 7515 section 4), checked before the
/// signature is: it says which algorithm the signature claims to use, and
/// River believes only what it configured.
///
/// - `alg` is required, and must be one of `accepting` — the algorithms of
///   the keys River has, each key bound to one (RFC 8725 sections 3.1 and 3.2,
///   https://www.rfc-editor.org/rfc/rfc8725#section-3.1). `none` never is:
///   an unsigned token proves nothing. So an HS256 token is never checked
///   against a public key (the classic confusion, where the public key's
///   bytes become an HMAC secret anyone has), nor an ES256 one against an
///   RSA key.
/// - `typ`, when present, must be `JWT` (RFC 7519 section 5.1, compared
///   without regard to case; `application/jwt` is the same media type by
///   RFC 7515 section 4.1.9). Another type (`at+jwt`, `secevent+jwt`) is a
///   token for something else (RFC 8725 sections 3.11 and 3.12).
/// - `crit` (RFC 7515 section 4.1.11) lists extensions the recipient must
///   understand or refuse the token; River understands none, so any `crit`
///   is refused — with the reason: not a non-empty array of strings, a name
///   RFC 7515 registers, a name twice, a name the header lacks, or else the
///   extension River does not support.
/// - `cty: JWT` announces a nested token (RFC 7519 section 5.2), and `enc`
///   an encrypted one (RFC 7516 section 9): River takes neither.
/// - `kid`, `jku`, `jwk`, `x5u`, `x5c` are never used to find a key: the
///   keys are River's configuration, not the token's say (RFC 8725 section 3.10).
struct TokenHeader: Equatable {
    let algorithm: TokenAlgorithm

    /// The header parameter names RFC 7515 section 4.1 registers for JWS (RFC 7518 adds none for JWS).
    static let registered: Set<String> = [
        "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
    ]

    init(_ header: JSONValue, accepting: Set<TokenAlgorithm>) throws(RequestError) {
        guard case .object = header else { throw Self.refusal("the header is not a JSON object") }
        self.algorithm = try Self.algorithm(header, accepting: accepting)
        if let typ = header["typ"] {
            guard case .string(let type) = typ, Self.isJWTMediaType(type) else {
                throw Self.refusal("typ must be JWT")
            }
        }
        if let crit = header["crit"] { try Self.check(crit: crit, in: header) }
        if case .string(let contentType)? = header["cty"], Self.isJWTMediaType(contentType) {
            throw Self.refusal("nested tokens (cty JWT) are not supported")
        }
        if header["enc"] != nil { throw Self.refusal("encrypted tokens (JWE) are not supported") }
    }

    private static func algorithm(
        _ header: JSONValue,
        accepting: Set<TokenAlgorithm>
    ) throws(RequestError)
        -> TokenAlgorithm
    {
        guard let alg = header["alg"] else { throw Self.refusal("alg is required") }
        guard case .string(let name) = alg else { throw Self.refusal("alg is not a string") }
        guard name.lowercased() != "none" else { throw Self.refusal("alg none is not accepted") }
        guard let algorithm = TokenAlgorithm(alg: name) else {
            throw Self.refusal("unsupported alg\(Self.quoted(name))")
        }
        guard accepting.contains(algorithm) else {
            throw Self.refusal("alg \(algorithm.rawValue) is not accepted by this server")
        }
        return algorithm
    }

    private static func check(crit: JSONValue, in header: JSONValue) throws(RequestError) {
        guard case .array(let elements) = crit, !elements.isEmpty else {
            throw Self.refusal("crit must be a non-empty array of header names")
        }
        var names: [String] = []
        for element in elements {
            guard case .string(let name) = element else {
                throw Self.refusal("crit must be a non-empty array of header names")
            }
            names.append(name)
        }
        if let name = names.first(where: { Self.registered.contains($0) }) {
            throw Self.refusal("crit names a header RFC 7515 defines\(Self.quoted(name))")
        }
        guard Set(names).count == names.count else { throw Self.refusal("crit names a header twice") }
        if let name = names.first(where: { header[$0] == nil }) {
            throw Self.refusal("crit names a header the token lacks\(Self.quoted(name))")
        }
        throw Self.refusal("crit names an unsupported extension\(Self.quoted(names[0]))")
    }

    /// `JWT` or `application/jwt`, in any case (media types are case-insensitive, RFC 2045 section 5.1).
    private static func isJWTMediaType(_ text: String) -> Bool {
        let lowered = text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
        return lowered.elementsEqual("jwt".utf8) || lowered.elementsEqual("application/jwt".utf8)
    }

    static func refusal(_ reason: String) -> RequestError { .forbidden("invalid token: \(reason)") }

    /// ` (name)` when `name` is short printable ASCII, else nothing: a reason quotes no arbitrary bytes.
    static func quoted(_ name: String) -> String {
        guard name.utf8.count <= 32, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return "" }
        return " (\(name))"
    }
}
