import Foundation
import RiverTesting
import Testing

/// The `river` executable with TLS, against curl (OpenSSL) and the kit's
/// TLS client: every endpoint over `https://`, the start-up errors, and a
/// certificate swapped under SIGHUP while a stream stays up.
@Suite(.serialized) struct TLSProcessTests {
    /// A certificate from a fresh authority in `directory`, the authority's
    /// certificate also kept aside (the directory's `ca.pem` follows the certificate).
    static func identity(_ name: String, in directory: TestTLSDirectory) throws -> (commonName: String, ca: String) {
        let identity = try TestCertificateAuthority(name: "\(name) CA").issue(commonName: name)
        try identity.write(to: directory)
        let ca = directory.path + "/\(name)-ca.pem"
        try (identity.authorityPEM + "\n").write(toFile: ca, atomically: true, encoding: .utf8)
        return (name, ca)
    }

    static func tlsArguments(_ directory: TestTLSDirectory) -> [String] {
        ["--threads", "1", "--tls-certificate", directory.certificate, "--tls-key", directory.key]
    }

    @Test func everyEndpointAnswersCurlOverHTTPS() async throws {
        let directory = try TestTLSDirectory()
        defer { directory.remove() }
        let (_, ca) = try Self.identity("river-1", in: directory)
        let river = try await RiverProcess.start(Self.tlsArguments(directory) + ["--admin-port", "0"])
        defer { river.signal(SIGTERM) }
        let adminLine = try await river.line(containing: "admin routes on")
        let adminPort = adminLine.split(separator: ":").last!.split(separator: " ").first!
        let base = "https://127.0.0.1:\(river.port)"
        let trusting = ["--cacert", ca]

        // Streaming, SSE and the WebSocket handshake stay open: started first, stopped by PID.
        let stream = try Curl(trusting + ["-N", "\(base)/subscribe?name=feed&hello=1"])
        try await stream.waitForOutput(containing: "[\"live\"")
        let events = try Curl(trusting + ["-N", "\(base)/sse?name=feed&hello=1"])
        try await events.waitForOutput(containing: "event: live")
        // (curl writes a 101's head only with -v, to standard error, which the pipe collects too.)
        let upgrade = try Curl(
            trusting + [
                "-v", "-N", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
                "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "\(base)/websocket?name=feed",
            ]
        )
        try await upgrade.waitForOutput(containing: "< Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(upgrade.text.contains("< HTTP/1.1 101 Switching Protocols"))

        let published = try await Curl.run(
            trusting + ["-v", "-H", "Content-Type: text/plain", "--data-binary", "hello", "\(base)/publish?name=feed"]
        )
        #expect(published.status == 0, "\(published.output)")
        #expect(published.output.contains("{\"channel\": \"feed\", \"seq\": 1}"))
        #expect(published.output.contains("ALPN: server accepted http/1.1"))
        #expect(published.output.contains("TLSv1.3"))
        let message = riverMessage("feed", 1, "\"hello\"")
        try await stream.waitForOutput(containing: message)
        try await events.waitForOutput(containing: "id: 1\ndata: hello\n\n")

        let longPoll = try await Curl.run(trusting + ["\(base)/subscribe?name=feed&seq=0&keep=0"])
        #expect(longPoll.output == message)
        let jsonp = try await Curl.run(trusting + ["\(base)/subscribe?name=feed&seq=0&keep=0&callback=show"])
        #expect(jsonp.output == "show(\(message));\r\n")
        for path in ["/health", "/lib.js", "/iframe", "/crossdomain.xml", "/chat/"] {
            let answer = try await Curl.run(trusting + ["-o", "/dev/null", "-w", "%{http_code}", "\(base)\(path)"])
            #expect(answer.output == "200", "\(path): \(answer.output)")
        }
        let stats = try await Curl.run(trusting + ["https://127.0.0.1:\(adminPort)/stats"])
        #expect(stats.status == 0, "\(stats.output)")
        #expect(stats.output.contains("uptime_seconds"))
        let metrics = try await Curl.run(trusting + ["https://127.0.0.1:\(adminPort)/metrics"])
        #expect(metrics.output.contains("# TYPE"))

        // The control for all of the above: without the authority, curl refuses the certificate.
        let untrusted = try await Curl.run(["\(base)/health"])
        #expect(untrusted.status == 60, "\(untrusted.output)")  // CURLE_PEER_FAILED_VERIFICATION
        for curl in [stream, events, upgrade] { try await curl.stop() }
    }

    @Test func curlGetsOnlyModernTLSAndChecksTheName() async throws {
        let directory = try TestTLSDirectory()
        defer { directory.remove() }
        let (_, ca) = try Self.identity("river-1", in: directory)
        let river = try await RiverProcess.start(Self.tlsArguments(directory))
        defer { river.signal(SIGTERM) }
        let health = "https://127.0.0.1:\(river.port)/health"
        let cases: [(arguments: [String], status: Int32, output: String)] = [
            (["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256"], 0, "ok"),
            (["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"], 0, "ok"),
            (["--tlsv1.3"], 0, "ok"),
            // Refused by River (the alert is the server's), not by curl: 35 is CURLE_SSL_CONNECT_ERROR.
            (["--tlsv1.1", "--tls-max", "1.1"], 35, "alert protocol version"),
            (["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-SHA"], 35, "alert handshake failure"),
            (["--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-SHA"], 35, "alert handshake failure"),
        ]
        for (arguments, status, output) in cases {
            let result = try await Curl.run(["--cacert", ca] + arguments + [health])
            #expect(result.status == status, "\(arguments): \(result.output)")
            #expect(result.output.contains(output), "\(arguments): \(result.output)")
        }
        let misnamed = try await Curl.run(
            [
                "--cacert", ca, "--resolve", "river.example:\(river.port):127.0.0.1",
                "https://river.example:\(river.port)/",
            ]
        )
        #expect(misnamed.status == 60, "the certificate names localhost and 127.0.0.1 only: \(misnamed.output)")
    }

    @Test func sighupSwapsTheCertificateWhileAStreamStaysUp() async throws {
        let directory = try TestTLSDirectory()
        defer { directory.remove() }
        let (_, firstCA) = try Self.identity("river-1", in: directory)
        let river = try await RiverProcess.start(Self.tlsArguments(directory))
        defer { river.signal(SIGTERM) }
        let base = "https://127.0.0.1:\(river.port)"
        let announced = try await river.line(containing: "TLS on every listener")
        #expect(
            announced.contains("TLS on every listener (TLS 1.2+, ALPN h2, http/1.1): \(directory.certificate) — CN=river-1")
        )

        let (stream, before) = try await TestConnection.liveTLS(
            port: river.port,
            client: TestTLSClient(trusting: [firstCA])
        )
        #expect(before.peerCommonName == "river-1")
        try await stream.sendRequest("GET", "/subscribe?name=swap&hello=1")
        #expect(try await stream.readHead().status == 200)
        #expect(try await stream.readChunk()?.hasPrefix("[\"live\"") == true)

        let (_, secondCA) = try Self.identity("river-2", in: directory)
        river.signal(SIGHUP)
        _ = try await river.line(containing: "TLS certificate reloaded")
        let published = try await Curl.run(["--cacert", secondCA, "--data", "data=after", "\(base)/publish?name=swap"])
        #expect(published.status == 0, "a new connection trusts the new authority: \(published.output)")
        let (_, after) = try await TestConnection.liveTLS(port: river.port, client: TestTLSClient(trusting: [secondCA]))
        #expect(after.peerCommonName == "river-2")
        let oldAuthority = try await Curl.run(["--cacert", firstCA, "\(base)/health"])
        #expect(oldAuthority.status == 60, "the old certificate is gone: \(oldAuthority.output)")
        #expect(try await stream.readChunk() == riverMessage("swap", 1, "\"after\""), "the open stream goes on")

        // A reload that fails (a key that is not PEM) keeps the certificate in use, and says why on one line.
        try "not a key\n".write(toFile: directory.key, atomically: true, encoding: .utf8)
        river.signal(SIGHUP)
        let failure = try await river.line(containing: "TLS reload failed")
        #expect(failure.contains("keeping the certificate in use: tls_key \(directory.key): no PEM private key in it"))
        let still = try await Curl.run(["--cacert", secondCA, "--data", "data=still", "\(base)/publish?name=swap"])
        #expect(still.status == 0, "\(still.output)")
        #expect(try await stream.readChunk() == riverMessage("swap", 2, "\"still\""))

        river.signal(SIGTERM)
        #expect(try await stream.readChunk() == nil, "the stream ends cleanly at shutdown")
        #expect(try await river.exited() == 0)
    }

    @Test func withoutTLSSighupStillEndsTheProcess() async throws {
        // SIGHUP is trapped only to reload TLS: a plain River keeps the signal's default.
        let river = try await RiverProcess.start(["--threads", "1"])
        river.signal(SIGHUP)
        #expect(try await river.exited() == SIGHUP)
    }

    @Test(arguments: [
        (
            ["--tls-certificate", "/nonexistent/river.pem", "--tls-key", "/nonexistent/key.pem"],
            "river: tls_certificate /nonexistent/river.pem: cannot open: No such file or directory\n"
        ),
        (["--tls-certificate", "/nonexistent/river.pem"], "river: tls_certificate needs tls_key\n"),
        (["--tls-key", ""], "river: --tls-key: a value is required\n"),
    ])
    func aMissingCertificateOrKeyStopsStartUp(arguments: [String], message: String) async throws {
        let river = try await RiverProcess.start(arguments, waitForListening: false)
        #expect(try await river.exited() == 78)
        // (The pipe may deliver the line a little after the exit on a busy machine.)
        try? await eventually("the error line") { river.standardError.hasSuffix("\n") }
        #expect(river.standardError == message)
    }

    @Test func aKeyThatIsNotTheCertificatesStopsStartUp() async throws {
        let directory = try TestTLSDirectory()
        defer { directory.remove() }
        _ = try Self.identity("river-1", in: directory)
        try TestCertificateAuthority().issue().keyPEM.write(toFile: directory.key, atomically: true, encoding: .utf8)
        let river = try await RiverProcess.start(Self.tlsArguments(directory), waitForListening: false)
        #expect(try await river.exited() == 78)
        try? await eventually("the error line") { river.standardError.hasSuffix("\n") }
        #expect(
            river.standardError.hasPrefix(
                "river: tls_key \(directory.key): does not match the certificate in \(directory.certificate)"
            )
        )
    }
}
