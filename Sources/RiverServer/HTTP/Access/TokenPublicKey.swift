import Crypto
import CryptoExtras
import JWTKit

/// `token_public_key FILE`: a PEM public key (`-----BEGIN PUBLIC KEY-----`)
/// whose type picks the one algorithm its tokens may use — a P-256 key
/// ES256, an RSA key of at least 2048 bits RS256 (RFC 7518 section 3.3
/// requires 2048), an Ed25519 key EdDSA. The file is read and checked at
/// start-up; a missing file, a private key, a certificate or another kind
/// of key stops River with the file and the reason.
public struct TokenPublicKey: Sendable, CustomStringConvertible {
    /// Where the key came from (for messages).
    public let path: String
    /// The one algorithm this key verifies.
    public let algorithm: TokenAlgorithm
    let key: Key

    enum Key: Sendable {
        case rsa(JWTKit.Insecure.RSA.PublicKey)
        case p256(ES256PublicKey)
        case ed25519(EdDSA.PublicKey)
    }

    public var description: String { "\(self.algorithm.rawValue) public key from \(self.path)" }

    /// Reads and checks the key in the PEM file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> TokenPublicKey {
        let bytes = try FileReader.bytes(atPath: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError("\(path): not a PEM public key (the file is not text)")
        }
        return try TokenPublicKey(pem: text, path: path)
    }

    /// The key in `pem`; `path` names it in errors.
    public init(pem: String, path: String) throws(ConfigurationError) {
        self.path = path
        func refuse(_ reason: String) -> ConfigurationError { ConfigurationError("\(path): \(reason)") }
        if pem.contains("PRIVATE KEY-----") {
            throw refuse("a private key; give River the public key only (openssl pkey -in KEY -pubout)")
        }
        if pem.contains("-----BEGIN CERTIFICATE-----") {
            throw refuse("a certificate; give River its public key (openssl x509 -in CERT -pubkey -noout)")
        }
        guard pem.contains("-----BEGIN PUBLIC KEY-----") || pem.contains("-----BEGIN RSA PUBLIC KEY-----") else {
            throw refuse("not a PEM public key (-----BEGIN PUBLIC KEY-----)")
        }
        if let key = try? ES256PublicKey(pem: pem) {
            (self.algorithm, self.key) = (.es256, .p256(key))
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
            (self.algorithm, self.key) = (.edDSA, .ed25519(key))
        } else if let rsa = try? _RSA.Signing.PublicKey(unsafePEMRepresentation: pem) {
            guard rsa.keySizeInBits >= 2048, let key = try? JWTKit.Insecure.RSA.PublicKey(backing: rsa) else {
                throw refuse(
                    "an RSA key of \(rsa.keySizeInBits) bits; RS256 needs at least 2048 (RFC 7518 section 3.3)"
                )
            }
            (self.algorithm, self.key) = (.rs256, .rsa(key))
        } else if (try? P384.Signing.PublicKey(pemRepresentation: pem)) != nil {
            throw refuse("an EC key on P-384; River verifies ES256, which needs P-256")
        } else if (try? P521.Signing.PublicKey(pemRepresentation: pem)) != nil {
            throw refuse("an EC key on P-521; River verifies ES256, which needs P-256")
        } else {
            throw refuse("not a supported public key (ES256: P-256, RS256: RSA of 2048 bits or more, EdDSA: Ed25519)")
        }
    }

    /// The key as a jwt-kit algorithm that verifies `self.algorithm`'s signatures.
    func verifier() async throws -> any JWTAlgorithm {
        let keys = JWTKeyCollection()
        switch self.key {
        case .rsa(let key): await keys.add(rsa: key, digestAlgorithm: .sha256)
        case .p256(let key): await keys.add(ecdsa: key)
        case .ed25519(let key): await keys.add(eddsa: key)
        }
        return try await keys.getKey()
    }
}
