import NIOSSL
import RiverTesting
import Testing

@testable import RiverServer

/// River over TLS with the kit's TLS clients (`TLSTransport`, NIOSSL trusting a
/// test authority made at run time): every transport, what TLS is accepted,
/// and certificate reloads. Live: TLS needs a socket.
@Suite struct TLSTests {
    @Test func streamLongPollAndJSONPCarryMessagesOverTLS() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                let stream = try await river.connect()
                try await stream.sendRequest("GET", "/subscribe?name=news&hello=1")
                #expect(try await stream.readHead().status == 200)
                #expect(try await stream.readChunk()?.hasPrefix("[\"live\"") == true)
                let poll = try await river.connect()
                try await poll.sendRequest("GET", "/subscribe?name=news&keep=0&hello=0")
                #expect(try await poll.readHead().status == 200)
                let jsonp = try await river.connect()
                try await jsonp.sendRequest("GET", "/subscribe?name=news&callback=got&hello=1")
                #expect(try await jsonp.readHead().status == 200)
                #expect(try await jsonp.readChunk()?.hasPrefix("got([\"live\"") == true)

                #expect(try await river.publish("news", "over tls") == 1)
                let message = riverMessage("news", 1, "\"over tls\"")
                #expect(try await stream.readChunk() == message)
                #expect(try await poll.readChunk() == message)
                #expect(try await poll.readChunk() == nil, "long-poll ends after its message")
                #expect(try await jsonp.readChunk() == "got(\(message));\r\n")
            }
        }
    }

    @Test func serverSentEventsAndWebSocketsOverTLS() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                let events = try await river.connect()
                try await events.sendRequest("GET", "/sse?name=room&hello=1")
                #expect(try await events.readHead().header("Content-Type") == "text/event-stream; charset=utf-8")
                #expect(String(decoding: try await events.readSome(), as: UTF8.self).hasPrefix("event: live\n"))
                let socket = try await river.webSocket("/websocket?name=room&hello=1")
                #expect(try await socket.readText().hasPrefix("[\"live\""))

                try await socket.send(text: "from wss")  // a WebSocket publishes what it sends
                #expect(try await socket.readText() == riverMessage("room", 1, "\"from wss\""))
                var text = ""
                while !text.hasSuffix("\n\n") {
                    text += String(decoding: try await events.readSome(), as: UTF8.self)
                }
                #expect(text == "id: 1\ndata: from wss\n\n")
            }
        }
    }

    @Test func adminHealthAndStaticFilesOverTLS() async throws {
        try await withTestTLS { directory, _ in
            var configuration = RiverConfiguration.testing(tls: directory)
            configuration.adminPort = 0
            try await withRiver(.live, configuration) { river in
                #expect(try await river.request("GET", "/health").status == 200)
                let script = try await river.request("GET", "/lib.js")
                #expect(script.status == 200)
                #expect(script.body.contains("Comet"))
                #expect(try await river.request("GET", "/crossdomain.xml").body.contains("cross-domain-policy"))
                #expect(try await river.request("GET", "/stats").status == 404, "admin moved to admin_port")

                // The admin listener speaks TLS with the same certificate.
                let adminPort = river.server.adminAddress!.port!
                let (admin, handshake) = try await TestConnection.liveTLS(port: adminPort, client: river.tlsClient)
                #expect(handshake.negotiatedProtocol == "http/1.1")
                try await admin.sendRequest("GET", "/stats")
                let stats = try await admin.readResponse()
                #expect(stats.status == 200)
                #expect(stats.body.contains("uptime_seconds"))
                await admin.close()
            }
        }
    }

    @Test func alpnPrefersH2AndAClientWithoutALPNGetsHTTP1() async throws {
        try await withTestTLS { directory, identity in
            try await withRiver(.live, .testing(tls: directory)) { river in
                var offeringBoth = river.tlsClient
                offeringBoth.applicationProtocols = ["h2", "http/1.1"]
                let (first, handshake) = try await river.connectTLS(offeringBoth)
                #expect(handshake.negotiatedProtocol == "h2")
                #expect(handshake.peerCommonName == identity.commonName)
                await first.close()

                let (http1, onlyHTTP1) = try await river.connectTLS()
                #expect(onlyHTTP1.negotiatedProtocol == "http/1.1")
                try await http1.sendRequest("GET", "/health")
                #expect(try await http1.readResponse().status == 200)
                await http1.close()

                var withoutALPN = river.tlsClient
                withoutALPN.applicationProtocols = []
                let (plain, none) = try await river.connectTLS(withoutALPN)
                #expect(none.negotiatedProtocol == nil)
                try await plain.sendRequest("GET", "/health")
                #expect(try await plain.readResponse().status == 200)
                await plain.close()
            }
        }
    }

    @Test func tls13AndModernTLS12SuitesAreAccepted() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                let accepted: [(TLSVersion, String?)] = [
                    (.tlsv13, nil), (.tlsv12, "ECDHE-ECDSA-AES128-GCM-SHA256"),
                    (.tlsv12, "ECDHE-ECDSA-AES256-GCM-SHA384"), (.tlsv12, "ECDHE-ECDSA-CHACHA20-POLY1305"),
                ]
                for (maximum, suites) in accepted {
                    var client = river.tlsClient
                    client.maximumVersion = maximum
                    client.cipherSuites = suites
                    let (connection, _) = try await river.connectTLS(client)
                    try await connection.sendRequest("GET", "/health")
                    #expect(try await connection.readResponse().status == 200, "\(maximum) \(suites ?? "")")
                    await connection.close()
                }
            }
        }
    }

    @Test func oldVersionsAndWeakSuitesAreRefused() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                var tls11 = river.tlsClient
                tls11.minimumVersion = .tlsv1
                tls11.maximumVersion = .tlsv11
                await #expect(throws: TLSHandshakeFailed.self) { try await river.connectTLS(tls11) }
                // CBC suites: in NIOSSL's defaults, not in River's.
                for suite in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA"] {
                    var weak = river.tlsClient
                    weak.maximumVersion = .tlsv12
                    weak.cipherSuites = suite
                    await #expect(throws: TLSHandshakeFailed.self, "\(suite)") { try await river.connectTLS(weak) }
                }
            }
        }
    }

    @Test func anRSACertificateServesECDHEButNotRSAKeyExchange() async throws {
        try await withTestTLS(keyType: .rsa) { directory, identity in
            #expect(identity.keyPEM.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"), "PKCS #1 is read")
            try await withRiver(.live, .testing(tls: directory)) { river in
                for suite in ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"] {
                    var modern = river.tlsClient
                    modern.maximumVersion = .tlsv12
                    modern.cipherSuites = suite
                    let (connection, _) = try await river.connectTLS(modern)
                    try await connection.sendRequest("GET", "/health")
                    #expect(try await connection.readResponse().status == 200, "\(suite)")
                    await connection.close()
                }
                // RSA key exchange (no forward secrecy) and CBC: in NIOSSL's defaults, not in River's.
                for suite in ["AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA"] {
                    var weak = river.tlsClient
                    weak.maximumVersion = .tlsv12
                    weak.cipherSuites = suite
                    await #expect(throws: TLSHandshakeFailed.self, "\(suite)") { try await river.connectTLS(weak) }
                }
            }
        }
    }

    @Test func aCertificateFromAnotherAuthorityIsRefusedByTheClient() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                let stranger = try TestTLSDirectory()
                defer { stranger.remove() }
                try TestCertificateAuthority(name: "another CA").issue().write(to: stranger)
                // The control: the same client trusting the right authority connects.
                let (trusted, _) = try await river.connectTLS(TestTLSClient(trusting: [directory.authority]))
                await trusted.close()
                await #expect(throws: TLSHandshakeFailed.self) {
                    try await river.connectTLS(TestTLSClient(trusting: [stranger.authority]))
                }
                // (A wrong name is curl's to refuse, in TLSProcessTests: NIOSSL accepts the
                // certificate's 127.0.0.1 for the address it connected to, whatever the name.)
            }
        }
    }

    @Test func plainHTTPToATLSPortGetsNoAnswer() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                let plain = try await TestConnection.live(port: river.port)
                try await plain.sendRequest("GET", "/health")
                let bytes = try await plain.readToEnd()
                #expect(!String(decoding: bytes, as: UTF8.self).contains("HTTP/1.1"), "nothing in plaintext")
            }
        }
    }

    @Test func aClientThatNeverStartsTheHandshakeIsClosedAfterReadTimeout() async throws {
        try await withTestTLS { directory, _ in
            var configuration = RiverConfiguration.testing(tls: directory)
            configuration.readTimeout = .seconds(1)
            try await withRiver(.live, configuration) { river in
                let silent = try await TestConnection.live(port: river.port, readTimeout: .seconds(10))
                let start = ContinuousClock.now
                _ = try await silent.readToEnd()  // (throws TimedOut if the server keeps it open 10 s)
                #expect(ContinuousClock.now - start < .seconds(9))
            }
        }
    }

    @Test func overMaxConnectionsThe503ArrivesOverTLS() async throws {
        try await withTestTLS { directory, _ in
            var configuration = RiverConfiguration.testing(tls: directory)
            configuration.maxConnections = 1
            try await withRiver(.live, configuration) { river in
                let holder = try await river.connect()
                try await holder.sendRequest("GET", "/subscribe?name=full&hello=1")
                #expect(try await holder.readHead().status == 200)
                let (refused, _) = try await river.connectTLS()
                let answer = try await refused.readResponse()
                #expect(answer.status == 503)
                #expect(answer.body.contains("connection limit (1)"))
            }
        }
    }
}
