import Crypto
import CryptoExtras
import Foundation
import RiverServer
import SwiftASN1
import X509

/// A certificate authority made at run time for one test run (swift-certificates
/// and swift-crypto, P-256): it issues server certificates (P-256 or RSA keys) for `localhost`
/// and 127.0.0.1 that test clients — the kit's `TLSTransport`, curl,
/// Chromium — trust through its certificate alone. Nothing is committed, so
/// nothing expires in the repository.
public struct TestCertificateAuthority: Sendable {
    /// The authority's certificate, PEM: what a client trusts (`--cacert`).
    public let certificatePEM: String
    private let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    /// A new authority called `name`, valid from an hour ago for a year.
    public init(name: String = "River test CA") throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 365 * 86_400,
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        self.certificate = certificate
        self.key = key
        self.certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// The kinds of server key.
    public enum KeyType: Sendable {
        /// ECDSA on P-256; the key in PKCS #8.
        case p256
        /// RSA, 2048 bits; the key in PKCS #1 (`BEGIN RSA PRIVATE KEY`).
        case rsa
    }

    /// A server certificate for `localhost` and 127.0.0.1, signed by this
    /// authority, valid from an hour ago for `validity` seconds.
    public func issue(
        commonName: String = "localhost",
        validity: TimeInterval = 30 * 86_400,
        keyType: KeyType = .p256
    ) throws -> TestServerIdentity {
        let publicKey: Certificate.PublicKey
        let keyPEM: String
        switch keyType {
        case .p256:
            let key = P256.Signing.PrivateKey()
            publicKey = Certificate.PublicKey(key.publicKey)
            keyPEM = key.pemRepresentation
        case .rsa:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            publicKey = Certificate.PublicKey(key.publicKey)
            keyPEM = key.pemRepresentation
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - 3600,
            notValidAfter: now + validity,
            issuer: self.certificate.subject,
            subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(self.key)
        )
        return TestServerIdentity(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            keyPEM: keyPEM,
            authorityPEM: self.certificatePEM,
            commonName: commonName
        )
    }
}

/// A server certificate and its key, as River reads them (`tls_certificate`, `tls_key`).
public struct TestServerIdentity: Sendable {
    public let certificatePEM: String
    /// Unencrypted: PKCS #8 (P-256) or PKCS #1 (RSA).
    public let keyPEM: String
    /// The issuing authority's certificate, which clients trust.
    public let authorityPEM: String
    /// The certificate's subject common name, to tell two certificates apart.
    public let commonName: String

    /// Writes `certificate.pem` (the certificate, then the authority's), `key.pem`
    /// and `ca.pem` into `directory`, replacing them as a deployment would
    /// (each written aside, then renamed over the old).
    @discardableResult
    public func write(to directory: TestTLSDirectory) throws -> TestTLSDirectory {
        try Self.replace(directory.certificate, with: self.certificatePEM + "\n" + self.authorityPEM + "\n")
        try Self.replace(directory.key, with: self.keyPEM + "\n")
        try Self.replace(directory.authority, with: self.authorityPEM + "\n")
        return directory
    }

    private static func replace(_ path: String, with contents: String) throws {
        let aside = path + ".new"
        try contents.write(toFile: aside, atomically: false, encoding: .utf8)
        guard rename(aside, path) == 0 else { throw TestFailure("cannot rename \(aside) to \(path)") }
    }
}

/// A temporary directory for one River's TLS files; `remove()` deletes it.
public struct TestTLSDirectory: Sendable {
    public let path: String

    /// A new, empty directory.
    public init() throws {
        self.path = NSTemporaryDirectory() + "river-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.path, withIntermediateDirectories: true)
    }

    /// `tls_certificate`: the server's certificate, then its authority's.
    public var certificate: String { self.path + "/certificate.pem" }
    /// `tls_key`.
    public var key: String { self.path + "/key.pem" }
    /// The authority clients trust.
    public var authority: String { self.path + "/ca.pem" }

    public func remove() {
        try? FileManager.default.removeItem(atPath: self.path)
    }
}

extension RiverConfiguration {
    /// The test defaults on a free port, speaking TLS with `directory`'s certificate and key.
    public static func testing(tls directory: TestTLSDirectory) -> RiverConfiguration {
        var configuration = RiverConfiguration.testing
        configuration.tlsCertificate = directory.certificate
        configuration.tlsKey = directory.key
        return configuration
    }
}

extension RiverConfiguration {
    /// With `RIVER_TEST_TLS=1` in the environment, a live River configured
    /// without TLS gets the test process's shared certificate, so the live
    /// cases of the existing suites run over TLS unchanged
    /// (`RIVER_TEST_TLS=1 swift test --filter WebSocketTests`).
    func withTLSFromEnvironment() throws -> RiverConfiguration {
        guard self.tlsCertificate == nil, ProcessInfo.processInfo.environment["RIVER_TEST_TLS"] == "1" else {
            return self
        }
        let directory = try SharedTestTLS.directory.get()
        var configuration = self
        configuration.tlsCertificate = directory.certificate
        configuration.tlsKey = directory.key
        return configuration
    }
}

/// One certificate for every River of a `RIVER_TEST_TLS=1` run, made on first use
/// (its directory stays in the temporary directory: one per test process).
private enum SharedTestTLS {
    static let directory = Result<TestTLSDirectory, Error> {
        let directory = try TestTLSDirectory()
        try TestCertificateAuthority().issue().write(to: directory)
        return directory
    }
}

/// Runs `body` with TLS files from a fresh authority, and always removes them.
public func withTestTLS<T>(
    keyType: TestCertificateAuthority.KeyType = .p256,
    _ body: (TestTLSDirectory, TestServerIdentity) async throws -> T
) async throws -> T {
    let directory = try TestTLSDirectory()
    defer { directory.remove() }
    let identity = try TestCertificateAuthority().issue(keyType: keyType)
    try identity.write(to: directory)
    return try await body(directory, identity)
}
