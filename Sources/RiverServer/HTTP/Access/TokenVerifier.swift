import JWTKit
import RiverCore

/// Verifies a token — a JWS in compact serialization (RFC 7515 section 7.1,
/// https://www.rfc-editor.org/rfc/rfc7515#section-7.1) carrying JWT claims
/// (RFC 7519) — step by step, refusing at the first failure with one short
/// line (`invalid token: ...`, 403), never a crash:
///
/// 1. at most `maxTokenBytes`, exactly three parts of canonical unpadded
///    base64url (`Base64URL`);
/// 2. the header is a strict JSON object (`JSONParser`: UTF-8, RFC 8725
///    section 3.7; no member twice, RFC 7515 section 4) that `TokenHeader`
///    accepts: `alg` one of the configured keys' algorithms, `typ`, `crit`;
/// 3. the signature, with the one key of that algorithm (jwt-kit's
///    verifiers over swift-crypto);
/// 4. only then the claims: a strict JSON object (no member twice at any
///    depth, RFC 7519 section 4), claims of the right types (`AccessToken`),
///    and `AccessToken.check` (`exp`, `nbf`, `iss`, `aud`).
///
/// River parses the token itself rather than through `JWTKeyCollection`
/// because the checks above must see the raw JSON (a decoder that keeps the
/// last duplicate has already hidden the first) and because the algorithm
/// must be chosen by River's keys, not by the header.
struct TokenVerifier: Sendable {
    /// The longest token accepted, in bytes: what fits in River's header section (16 KiB).
    static let maxTokenBytes = 16384
    /// How deep `info` (or anything else in a token) may nest.
    static let maxDepth = 16

    /// One verifier per algorithm: `token_secret`'s HS256, the public key's own.
    private let verifiers: [TokenAlgorithm: any JWTAlgorithm]
    let rules: AccessToken.Rules

    /// The algorithms accepted, in a fixed order (for the start-up summary).
    var algorithms: [TokenAlgorithm] { TokenAlgorithm.allCases.filter { self.verifiers[$0] != nil } }

    private init(verifiers: [TokenAlgorithm: any JWTAlgorithm], rules: AccessToken.Rules) {
        self.verifiers = verifiers
        self.rules = rules
    }

    /// The verifier of `secret` (HS256) and `publicKey` (its algorithm); nil when neither is set.
    static func make(
        secret: Secret?,
        publicKey: TokenPublicKey?,
        rules: AccessToken.Rules
    ) async throws -> TokenVerifier? {
        var verifiers: [TokenAlgorithm: any JWTAlgorithm] = [:]
        if let secret {
            let keys = await JWTKeyCollection().add(
                hmac: secret.withBytes { HMACKey(from: $0) },
                digestAlgorithm: .sha256
            )
            verifiers[.hs256] = try await keys.getKey()
        }
        if let publicKey {
            verifiers[publicKey.algorithm] = try await publicKey.verifier()
        }
        return verifiers.isEmpty ? nil : TokenVerifier(verifiers: verifiers, rules: rules)
    }

    /// The token's claims, once every check holds at `now` (seconds since 1970).
    func verify(_ token: String, now: Int64) throws(RequestError) -> AccessToken {
        let accessToken = try self.verifySignedClaims(token)
        try accessToken.check(now: now, rules: self.rules)
        return accessToken
    }

    /// Steps 1 to 4 but the clock: the claims of an authentic token.
    func verifySignedClaims(_ token: String) throws(RequestError) -> AccessToken {
        let bytes = token.utf8
        guard bytes.count <= Self.maxTokenBytes else {
            throw Self.refusal("larger than \(Self.maxTokenBytes) bytes")
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw Self.refusal(parts.count == 5 ? "encrypted tokens (JWE) are not supported" : "malformed")
        }
        guard let headerBytes = Base64URL.decode(parts[0]) else { throw Self.refusal("header is not base64url") }
        let header = try TokenHeader(Self.json(headerBytes, of: "header"), accepting: Set(self.verifiers.keys))

        guard let signature = Base64URL.decode(parts[2]) else { throw Self.refusal("signature is not base64url") }
        let signingInput = Array(bytes[..<parts[1].endIndex])
        guard let verifier = self.verifiers[header.algorithm],
            (try? verifier.verify(signature, signs: signingInput)) == true
        else { throw Self.refusal("bad signature") }

        guard let claimBytes = Base64URL.decode(parts[1]) else { throw Self.refusal("claims are not base64url") }
        return try AccessToken(claims: Self.json(claimBytes, of: "claims"))
    }

    /// `bytes` as strict JSON, refused with `part` named.
    private static func json(_ bytes: [UInt8], of part: String) throws(RequestError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes, maxDepth: Self.maxDepth)
        } catch {
            if let name = error.duplicateName {
                throw Self.refusal("duplicate member in \(part)\(TokenHeader.quoted(name))")
            }
            throw Self.refusal("malformed \(part): \(error)")
        }
    }

    private static func refusal(_ reason: String) -> RequestError { TokenHeader.refusal(reason) }
}

extension TokenVerifier: CustomReflectable {
    /// The algorithms only: whatever prints or dumps a verifier shows no key.
    var customMirror: Mirror {
        Mirror(self, children: ["algorithms": self.algorithms.map(\.rawValue)])
    }
}
