import RiverCore

/// The signature algorithms River verifies, each bound to one kind of key
/// (RFC 8725 section 3.1: "each key MUST be used with exactly one algorithm",
/// https://www.rfc-editor.org/rfc/rfc8725#section-3.1).
public enum TokenAlgorithm: String, Sendable, CaseIterable {
    /// HMAC with SHA-256 and `token_secret` (RFC 7518 section 3.2).
    case hs256 = "HS256"
    /// RSASSA-PKCS1-v1_5 with SHA-256 and an RSA public key of 2048 bits or more (RFC 7518 section 3.3).
    case rs256 = "RS256"
    /// ECDSA with P-256 and SHA-256 (RFC 7518 section 3.4).
    case es256 = "ES256"
    /// Ed25519 (RFC 8037 section 3.1). Its fully-specified name, `Ed25519`
    /// (RFC 9864 section 2.2, https://www.rfc-editor.org/rfc/rfc9864#section-2.2), names the same
    /// algorithm and is accepted too.
    case edDSA = "EdDSA"

    /// The algorithm a JWS `alg` names (RFC 7515 section 4.1.1: case-sensitive), if River knows it.
    init?(alg: String) {
        if alg.utf8Equals("Ed25519") {
            self = .edDSA
        } else if let known = TokenAlgorithm(rawValue: alg) {
            self = known
        } else {
            return nil
        }
    }
}
