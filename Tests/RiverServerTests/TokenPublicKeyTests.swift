import Crypto
import CryptoExtras
import Foundation
import JWTKit
import RiverTesting
import Testing

@testable import RiverServer

/// `token_public_key`: a PEM public key whose type picks the one algorithm
/// accepted (ES256, RS256, EdDSA); no algorithm confusion between keys; a
/// clear start-up error for a file that is not such a key. Keys are made at
/// run time, tokens signed with jwt-kit; in-process but the command line.
@Suite struct TokenPublicKeyTests {
    static func configuration(_ publicKey: TokenPublicKey, secret: Bool = false) -> RiverConfiguration {
        configured {
            $0.tokenPublicKey = publicKey
            $0.privatePrefix = "private-"
            if secret { $0.tokenSecret = Secret(AccessControlTests.tokenKey) }
        }
    }

    static var claims: String { #"{"exp": \#(secondsSince1970() + 600), "channels": ["private-room"]}"# }

    @Test(arguments: [TokenAlgorithm.es256, .rs256, .edDSA])
    func eachKeyTypeVerifiesItsOwnAlgorithm(_ algorithm: TokenAlgorithm) async throws {
        let pair = try await TestKeyPair.make(algorithm)
        #expect(try pair.publicKey.algorithm == algorithm)
        // An issuer's token, encoded and signed by jwt-kit.
        let issued = try await pair.keys.sign(TokenClaims(channels: ["private-room"], publish: true))
        let attacker = try await TestKeyPair.make(algorithm, index: 1)
        let forged = try await attacker.keys.sign(TokenClaims(channels: ["private-room"]))
        // A token that brings its own key (RFC 8725 section 3.10): River uses only its configured one.
        let alg = attacker.signer.name
        let ownKey = try attacker.token(
            header: #"{"alg":"\#(alg)","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA"},"x5u":"https://evil.example/k"}"#,
            claims: Self.claims
        )
        try await withRiver(.inProcess, Self.configuration(try pair.publicKey)) { river in
            #expect(try await subscribeAnswer(river, token: issued).status == 200)
            let published = try await river.request("GET", "/publish?name=private-room&data=x&token=\(issued)")
            #expect(published.status == 200)
            let wrongKey = try await subscribeAnswer(river, token: forged)
            #expect(wrongKey.status == 403)
            #expect(wrongKey.body == "invalid token: bad signature\n")
            #expect(try await subscribeAnswer(river, token: ownKey).body == "invalid token: bad signature\n")
            // HS256 is not accepted without token_secret.
            let hmac = signedToken(Self.claims)
            #expect(
                try await subscribeAnswer(river, token: hmac).body
                    == "invalid token: alg HS256 is not accepted by this server\n"
            )
        }
    }

    /// A token naming another asymmetric algorithm than the key's is refused
    /// before any signature check, even when its signature is sound for its own key.
    @Test(arguments: [
        (TokenAlgorithm.es256, TokenAlgorithm.rs256), (.rs256, .es256), (.edDSA, .es256), (.es256, .edDSA),
    ])
    func aKeyVerifiesNoOtherAlgorithm(configured: TokenAlgorithm, presented: TokenAlgorithm) async throws {
        let key = try await TestKeyPair.make(configured)
        let other = try await TestKeyPair.make(presented, index: 1)
        try await withRiver(.inProcess, Self.configuration(try key.publicKey)) { river in
            let answer = try await subscribeAnswer(river, token: try other.token(claims: Self.claims))
            #expect(answer.status == 403)
            #expect(answer.body == "invalid token: alg \(presented.rawValue) is not accepted by this server\n")
            // The header relabelled to the key's algorithm: then the signature is wrong.
            let relabelled = try other.token(header: #"{"alg":"\#(configured.rawValue)"}"#, claims: Self.claims)
            #expect(try await subscribeAnswer(river, token: relabelled).body == "invalid token: bad signature\n")
        }
    }

    /// The classic confusion: an HS256 token whose HMAC key is the server's
    /// public key, bytes anyone has (the PEM text, or its DER).
    @Test(arguments: [TokenAlgorithm.es256, .rs256, .edDSA])
    func thePublicKeyIsNeverAnHMACSecret(_ algorithm: TokenAlgorithm) async throws {
        let pair = try await TestKeyPair.make(algorithm)
        let pem = pair.publicKeyPEM
        let der = try #require(
            Data(base64Encoded: pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined())
        )
        let header = #"{"alg":"HS256","typ":"JWT"}"#
        var confused: [String] = []
        for secret in [Array(pem.utf8), Array(pem.trimmingCharacters(in: .whitespacesAndNewlines).utf8), Array(der)] {
            confused.append(try rawToken(header: header, claims: Self.claims, signer: await hmacSigner(secret)))
        }
        // Only the public key: HS256 is not an algorithm this server takes.
        try await withRiver(.inProcess, Self.configuration(try pair.publicKey)) { river in
            for token in confused {
                let answer = try await subscribeAnswer(river, token: token)
                #expect(answer.body == "invalid token: alg HS256 is not accepted by this server\n")
            }
        }
        // With token_secret too, HS256 is checked with token_secret only.
        try await withRiver(.inProcess, Self.configuration(try pair.publicKey, secret: true)) { river in
            for token in confused {
                let answer = try await subscribeAnswer(river, token: token)
                #expect(answer.body == "invalid token: bad signature\n")
            }
        }
    }

    @Test func aSecretAndAPublicKeyEachVerifyTheirOwn() async throws {
        let pair = try await TestKeyPair.es256()
        try await withRiver(.inProcess, Self.configuration(try pair.publicKey, secret: true)) { river in
            #expect(try await subscribeAnswer(river, token: signedToken(Self.claims)).status == 200)
            #expect(try await subscribeAnswer(river, token: try pair.token(claims: Self.claims)).status == 200)
            let rsa = try await TestKeyPair.rs256(1)
            let answer = try await subscribeAnswer(river, token: try rsa.token(claims: Self.claims))
            #expect(answer.body == "invalid token: alg RS256 is not accepted by this server\n")
        }
        let policy = try await AccessPolicy.make(Self.configuration(try pair.publicKey, secret: true))
        #expect(policy.summary.contains("tokens on (HS256, ES256)"))
    }

    /// Ed25519 under its RFC 9864 name too.
    @Test func ed25519IsAcceptedUnderBothNames() async throws {
        let pair = try await TestKeyPair.edDSA()
        try await withRiver(.inProcess, Self.configuration(try pair.publicKey)) { river in
            for alg in ["EdDSA", "Ed25519"] {
                let token = try pair.token(header: #"{"alg":"\#(alg)","typ":"JWT"}"#, claims: Self.claims)
                #expect(try await subscribeAnswer(river, token: token).status == 200, "alg \(alg)")
            }
        }
    }

    // MARK: - Loading the key

    @Test func aKeyFileIsLoadedFromTheConfiguration() throws {
        let pem = P256.Signing.PrivateKey().publicKey.pemRepresentation
        let path = try temporaryFile(pem, suffix: ".pem")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = RiverConfiguration()
        try configuration.set("token_public_key", to: path)
        #expect(configuration.tokenPublicKey?.algorithm == .es256)
        #expect(configuration.tokenPublicKey?.description == "ES256 public key from \(path)")
    }

    static let unsupportedKeys: [(String, String)] = [
        (
            P256.Signing.PrivateKey().pemRepresentation,
            "a private key; give River the public key only (openssl pkey -in KEY -pubout)"
        ),
        (
            try! _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.pemRepresentation,
            "an RSA key of 1024 bits; RS256 needs at least 2048 (RFC 7518 section 3.3)"
        ),
        (
            P384.Signing.PrivateKey().publicKey.pemRepresentation,
            "an EC key on P-384; River verifies ES256, which needs P-256"
        ),
        (
            P521.Signing.PrivateKey().publicKey.pemRepresentation,
            "an EC key on P-521; River verifies ES256, which needs P-256"
        ),
        (
            Curve25519.KeyAgreement.PrivateKey().publicKey.pemRepresentation,
            "not a supported public key (ES256: P-256, RS256: RSA of 2048 bits or more, EdDSA: Ed25519)"
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
            "not a supported public key (ES256: P-256, RS256: RSA of 2048 bits or more, EdDSA: Ed25519)"
        ),
        ("0123456789abcdef0123456789abcdef\n", "not a PEM public key (-----BEGIN PUBLIC KEY-----)"),
        ("", "not a PEM public key (-----BEGIN PUBLIC KEY-----)"),
    ]

    @Test(arguments: Self.unsupportedKeys)
    func anUnsupportedKeyStopsStartUpWithTheFileAndTheReason(contents: String, reason: String) throws {
        let path = try temporaryFile(contents, suffix: ".pem")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var configuration = RiverConfiguration()
        #expect(throws: ConfigurationError("\(path): \(reason)")) {
            try configuration.set("token_public_key", to: path)
        }
        #expect(configuration.tokenPublicKey == nil)
    }

    @Test func aMissingOrBinaryFileStopsStartUp() throws {
        var configuration = RiverConfiguration()
        #expect(throws: ConfigurationError("/nonexistent/key.pem: cannot open: No such file or directory")) {
            try configuration.set("token_public_key", to: "/nonexistent/key.pem")
        }
        let binary = NSTemporaryDirectory() + "river-test-\(UUID().uuidString).der"
        try Data([0x30, 0x82, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: binary))
        defer { try? FileManager.default.removeItem(atPath: binary) }
        #expect(throws: ConfigurationError("\(binary): not a PEM public key (the file is not text)")) {
            try configuration.set("token_public_key", to: binary)
        }
        #expect(throws: ConfigurationError("a value is required")) {
            try configuration.set("token_public_key", to: "")
        }
    }

    /// The real process: the flag's error names the flag, the file and the reason, and River exits 78.
    @Test func theCommandLineSaysWhatIsWrongWithTheKey() async throws {
        let path = try temporaryFile(P384.Signing.PrivateKey().publicKey.pemRepresentation, suffix: ".pem")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let river = try await RiverProcess.start(["--token-public-key", path], waitForListening: false)
        #expect(try await river.exited() == 78)
        #expect(
            river.standardError
                == "river: --token-public-key: \(path): an EC key on P-384; River verifies ES256, which needs P-256\n"
        )
    }
}
