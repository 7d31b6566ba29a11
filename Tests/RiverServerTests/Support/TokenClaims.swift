import Foundation
import JWTKit

/// A token with exactly `header` and `claims` (JSON texts, however hostile), signed by `signer`.
func rawToken(header: String, claims: String, signer: any JWTAlgorithm) throws -> String {
    let input = base64URL(Array(header.utf8)) + "." + base64URL(Array(claims.utf8))
    return input + "." + base64URL(try signer.sign(Array(input.utf8)))
}

/// The HS256 signer of the secret `key` (any bytes), through jwt-kit.
func hmacSigner(_ key: [UInt8]) async throws -> any JWTAlgorithm {
    try await JWTKeyCollection().add(hmac: HMACKey(from: key), digestAlgorithm: .sha256).getKey()
}

/// Claims as an issuer's application would encode them with jwt-kit (`JWTPayload`).
struct TokenClaims: JWTPayload, Equatable {
    var exp: Double
    var channels: [String]?
    var prefix: String?
    var publish: Bool?
    var subscribe: Bool?
    var sub: String?
    var info: [String: String]?

    init(
        expiresIn: TimeInterval = 600,
        channels: [String]? = nil,
        prefix: String? = nil,
        publish: Bool? = nil,
        subscribe: Bool? = nil,
        sub: String? = nil,
        info: [String: String]? = nil
    ) {
        self.exp = Date().timeIntervalSince1970 + expiresIn
        self.channels = channels
        self.prefix = prefix
        self.publish = publish
        self.subscribe = subscribe
        self.sub = sub
        self.info = info
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
