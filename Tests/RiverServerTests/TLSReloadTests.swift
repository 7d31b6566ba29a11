import Foundation
import RiverTesting
import Testing

@testable import RiverServer

/// Loading `tls_certificate` and `tls_key`: the reasons a pair is refused at
/// start-up, and reloads that serve new handshakes while open streams go on.
@Suite struct TLSReloadTests {
    /// Files for one test: a good pair from `authority`, then whatever the test writes over them.
    struct Files {
        let directory: TestTLSDirectory
        let authority: TestCertificateAuthority

        init() throws {
            self.directory = try TestTLSDirectory()
            self.authority = try TestCertificateAuthority()
            try self.authority.issue(commonName: "river-1").write(to: self.directory)
        }

        var pair: TLSFiles { TLSFiles(certificate: self.directory.certificate, key: self.directory.key) }

        func overwrite(_ path: String, with text: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    @Test func aGoodPairLoads() throws {
        let files = try Files()
        defer { files.directory.remove() }
        try files.pair.check()
        let credentials = try files.pair.load()
        #expect(credentials.summary.hasPrefix("CN=river-1, serial "))
        #expect(credentials.secondsToExpiry() > 29 * 86_400)
    }

    @Test func eachBadFileIsRefusedWithTheKeyTheFileAndTheReason() throws {
        let files = try Files()
        defer { files.directory.remove() }
        let certificate = files.directory.certificate
        let key = files.directory.key
        let otherKey = try files.authority.issue(commonName: "other").keyPEM
        let good = (
            certificate: try String(contentsOfFile: certificate, encoding: .utf8),
            key: try String(contentsOfFile: key, encoding: .utf8)
        )
        let cases: [(path: String, contents: String?, reason: String)] = [
            (certificate, nil, "tls_certificate \(certificate): cannot open: No such file or directory"),
            (key, nil, "tls_key \(key): cannot open: No such file or directory"),
            (certificate, "", "tls_certificate \(certificate): no PEM certificate in it"),
            (certificate, "hello\n", "tls_certificate \(certificate): no PEM certificate in it"),
            (key, "hello\n", "tls_key \(key): no PEM private key in it"),
            (key, good.certificate, "tls_key \(key): no PEM private key in it"),
            (
                key, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "tls_key \(key): the key is encrypted; River needs it unencrypted"
            ),
            (key, otherKey, "tls_key \(key): does not match the certificate in \(certificate)"),
        ]
        for (path, contents, reason) in cases {
            if let contents {
                try files.overwrite(path, with: contents)
            } else {
                try FileManager.default.removeItem(atPath: path)
            }
            #expect(throws: ConfigurationError.self, "\(reason)") { try files.pair.check() }
            do {
                try files.pair.check()
            } catch {
                #expect(error.description.hasPrefix(reason), "\(error.description)")
            }
            try files.overwrite(certificate, with: good.certificate)
            try files.overwrite(key, with: good.key)
            try files.pair.check()  // the control: restored, the pair loads again
        }
    }

    @Test func aCertificateNeedsItsKeyAndAKeyItsCertificate() throws {
        var configuration = RiverConfiguration()
        #expect(try configuration.tlsFiles() == nil)
        try configuration.set("tls_certificate", to: "/etc/river/certificate.pem")
        #expect(throws: ConfigurationError("tls_certificate needs tls_key")) { try configuration.tlsFiles() }
        try configuration.set("tls_key", to: "/etc/river/key.pem")
        #expect(
            try configuration.tlsFiles()
                == TLSFiles(certificate: "/etc/river/certificate.pem", key: "/etc/river/key.pem")
        )
        configuration.tlsCertificate = nil
        #expect(throws: ConfigurationError("tls_key needs tls_certificate")) { try configuration.tlsFiles() }
        #expect(throws: ConfigurationError("a value is required")) { try configuration.set("tls_key", to: "") }
    }

    @Test func aReloadServesNewHandshakesWhileOpenStreamsKeepTheirs() async throws {
        let files = try Files()
        defer { files.directory.remove() }
        try await withRiver(.live, .testing(tls: files.directory)) { river in
            let (stream, before) = try await river.connectTLS()
            #expect(before.peerCommonName == "river-1")
            try await stream.sendRequest("GET", "/subscribe?name=swap&hello=1")
            #expect(try await stream.readHead().status == 200)
            #expect(try await stream.readChunk()?.hasPrefix("[\"live\"") == true)
            let h2 = try await river.connectHTTP2()
            try await h2.request(stream: 1, "GET", "/sse?name=swap&hello=1")
            #expect(try await h2.head(stream: 1).status == 200)
            #expect(try await h2.data(stream: 1, containing: "event: live").contains("event: live"))

            try files.authority.issue(commonName: "river-2").write(to: files.directory)
            #expect(river.server.reloadCertificates())
            let (fresh, after) = try await river.connectTLS()
            #expect(after.peerCommonName == "river-2", "a new handshake gets the new certificate")
            try await fresh.sendRequest(
                "POST",
                "/publish?name=swap",
                headers: ["Content-Type: text/plain"],
                body: "kept"
            )
            #expect(try await fresh.readResponse().status == 200)
            #expect(try await stream.readChunk() == riverMessage("swap", 1, "\"kept\""), "the open stream goes on")
            #expect(try await h2.data(stream: 1, containing: "data: kept").contains("id: 1"), "and the HTTP/2 one")
            let freshH2 = try await river.connectHTTP2()
            try await freshH2.request(stream: 1, "GET", "/channels/swap")
            #expect(try await freshH2.response(stream: 1).status == 200, "HTTP/2 handshakes after the reload")
            await freshH2.close()
            await fresh.close()

            // A reload that fails keeps the pair in use.
            try files.overwrite(files.directory.key, with: try files.authority.issue().keyPEM)
            #expect(!river.server.reloadCertificates())
            try FileManager.default.removeItem(atPath: files.directory.certificate)
            #expect(!river.server.reloadCertificates())
            let (later, kept) = try await river.connectTLS(TestTLSClient(trusting: [files.directory.authority]))
            #expect(kept.peerCommonName == "river-2")
            try await later.sendRequest("GET", "/publish?name=swap&data=still")
            #expect(try await later.readResponse().status == 200)
            #expect(try await stream.readChunk() == riverMessage("swap", 2, "\"still\""))
        }
    }

    @Test func aRiverWithoutTLSHasNothingToReload() async throws {
        try await withRiver(.live) { river in
            #expect(!river.server.usesTLS)
            #expect(!river.server.reloadCertificates())
        }
    }
}
