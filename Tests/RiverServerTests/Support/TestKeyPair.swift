import Crypto
import CryptoExtras
import Foundation
import JWTKit

@testable import RiverServer

/// A key pair made at run time (swift-crypto): the PEM public key River is
/// given, and the private key as a jwt-kit algorithm that signs tokens.
struct TestKeyPair: Sendable {
    let algorithm: TokenAlgorithm
    let publicKeyPEM: String
    /// jwt-kit's signer for the private key (RS256, ES256 or EdDSA).
    let signer: any JWTAlgorithm
    /// The same key in a collection, to sign a `JWTPayload` as an issuer would.
    let keys: JWTKeyCollection

    /// The public key, as `token_public_key` would load it.
    var publicKey: TokenPublicKey {
        get throws { try TokenPublicKey(pem: self.publicKeyPEM, path: "test-\(self.algorithm.rawValue).pem") }
    }

    static func es256() async throws -> TestKeyPair {
        let key = ES256PrivateKey()
        let keys = await JWTKeyCollection().add(ecdsa: key)
        return TestKeyPair(
            algorithm: .es256,
            publicKeyPEM: key.publicKey.pemRepresentation,
            signer: try await keys.getKey(),
            keys: keys
        )
    }

    static func edDSA() async throws -> TestKeyPair {
        let key = try EdDSA.PrivateKey()
        let keys = await JWTKeyCollection().add(eddsa: key)
        return TestKeyPair(
            algorithm: .edDSA,
            publicKeyPEM: key.publicKey.pemRepresentation,
            signer: try await keys.getKey(),
            keys: keys
        )
    }

    /// RS256 with one of the suite's two 2048-bit keys (generating RSA keys is slow).
    static func rs256(_ index: Int = 0) async throws -> TestKeyPair {
        let key = try JWTKit.Insecure.RSA.PrivateKey(backing: Self.rsaKeys[index])
        let keys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256)
        return TestKeyPair(
            algorithm: .rs256,
            publicKeyPEM: key.publicKey.pemRepresentation,
            signer: try await keys.getKey(),
            keys: keys
        )
    }

    /// A new pair (for RS256, `index` picks one of two fixed ones: another index, another key).
    static func make(_ algorithm: TokenAlgorithm, index: Int = 0) async throws -> TestKeyPair {
        switch algorithm {
        case .es256: return try await Self.es256()
        case .rs256: return try await Self.rs256(index)
        case .edDSA: return try await Self.edDSA()
        case .hs256: preconditionFailure("HS256 has no key pair")
        }
    }

    private static let rsaKeys = [
        try! _RSA.Signing.PrivateKey(keySize: .bits2048), try! _RSA.Signing.PrivateKey(keySize: .bits2048),
    ]

    /// A token whose header and claims are exactly the JSON texts given, signed with this key.
    func token(header: String? = nil, claims: String) throws -> String {
        try rawToken(
            header: header ?? #"{"alg":"\#(self.signer.name)","typ":"JWT"}"#,
            claims: claims,
            signer: self.signer
        )
    }
}
