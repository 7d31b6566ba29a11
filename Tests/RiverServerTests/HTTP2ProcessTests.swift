import Foundation
import RiverTesting
import Testing

/// HTTP/2 against real clients: curl (nghttp2) over TLS with ALPN and by
/// prior knowledge (h2c), h2load opening many streams, and the kit's frame
/// client over TLS; all against the `river` process on 127.0.0.1.
@Suite(.serialized) struct HTTP2ProcessTests {
    @Test func everyEndpointAnswersCurlOverHTTP2() async throws {
        let directory = try TestTLSDirectory()
        defer { directory.remove() }
        let (_, ca) = try TLSProcessTests.identity("river-1", in: directory)
        let river = try await RiverProcess.start(TLSProcessTests.tlsArguments(directory) + ["--admin-port", "0"])
        defer { river.signal(SIGTERM) }
        let adminLine = try await river.line(containing: "admin routes on")
        let adminPort = adminLine.split(separator: ":").last!.split(separator: " ").first!
        let base = "https://127.0.0.1:\(river.port)"
        let h2 = ["--http2", "--cacert", ca]

        let stream = try Curl(h2 + ["-N", "\(base)/subscribe?name=feed&hello=1"])
        defer { stream.process.signal(SIGTERM) }
        try await stream.waitForOutput(containing: "[\"live\"")
        let events = try Curl(h2 + ["-N", "\(base)/sse?name=feed&hello=1"])
        defer { events.process.signal(SIGTERM) }
        try await events.waitForOutput(containing: "event: live")

        let published = try await Curl.run(
            h2 + ["-v", "-H", "Content-Type: text/plain", "--data-binary", "hello", "\(base)/publish?name=feed"]
        )
        #expect(published.status == 0, "\(published.output)")
        #expect(published.output.contains("ALPN: server accepted h2"), "\(published.output)")
        #expect(published.output.contains("< HTTP/2 200"), "\(published.output)")
        #expect(published.output.contains("{\"channel\": \"feed\", \"seq\": 1}"))
        let message = riverMessage("feed", 1, "\"hello\"")
        try await stream.waitForOutput(containing: message)
        try await events.waitForOutput(containing: "id: 1\ndata: hello\n\n")

        let longPoll = try await Curl.run(h2 + ["\(base)/subscribe?name=feed&seq=0&keep=0"])
        #expect(longPoll.output == message)
        let jsonp = try await Curl.run(h2 + ["\(base)/subscribe?name=feed&seq=0&keep=0&callback=show"])
        #expect(jsonp.output == "show(\(message));\r\n")
        for path in ["/health", "/lib.js", "/iframe", "/crossdomain.xml", "/chat/"] {
            let answer = try await Curl.run(
                h2 + ["-o", "/dev/null", "-w", "%{http_version} %{http_code}", "\(base)\(path)"]
            )
            #expect(answer.output == "2 200", "\(path): \(answer.output)")
        }
        let stats = try await Curl.run(h2 + ["-w", "\n%{http_version}", "https://127.0.0.1:\(adminPort)/stats"])
        #expect(stats.output.contains("uptime_seconds") && stats.output.hasSuffix("\n2"), "\(stats.output)")
        // A client that offers only HTTP/1.1 still gets it.
        let http1 = try await Curl.run(["--cacert", ca, "-w", "%{http_version}", "-o", "/dev/null", "\(base)/health"])
        #expect(http1.output == "1.1")
    }

    @Test func curlAndH2loadByPriorKnowledge() async throws {
        let river = try await RiverProcess.start(["--threads", "1", "--http2-cleartext", "on"])
        defer { river.signal(SIGTERM) }
        let base = "http://127.0.0.1:\(river.port)"
        let stream = try Curl(["--http2-prior-knowledge", "-N", "\(base)/subscribe?name=load&hello=1"])
        defer { stream.process.signal(SIGTERM) }
        try await stream.waitForOutput(containing: "[\"live\"")
        let health = try await Curl.run(["--http2-prior-knowledge", "-w", " %{http_version}", "\(base)/health"])
        #expect(health.output.hasSuffix(" 2"), "\(health.output)")
        let plain = try await Curl.run(["-w", " %{http_version}", "\(base)/health"])
        #expect(plain.output.hasSuffix(" 1.1"), "HTTP/1.1 on the same port: \(plain.output)")

        // 2,000 publishes on 100 concurrent streams of 2 connections.
        let load = try ChildProcess(
            "/usr/bin/h2load",
            ["-n", "2000", "-c", "2", "-m", "100", "\(base)/publish?name=load&data=x"],
            standardOutput: .pipe,
            standardError: .pipe
        )
        let output = PipeReader(load.output!)
        #expect(try await load.exited(within: .seconds(60)) == 0)
        try await output.end()
        let report = output.text
        #expect(report.contains("2000 succeeded, 0 failed, 0 errored"), "\(report)")
        #expect(report.contains("status codes: 2000 2xx"), "\(report)")
        try await stream.waitForOutput(containing: riverMessage("load", 2000, "\"x\""))
    }

    /// The in-process exchange of every transport, over TLS with ALPN `h2`.
    @Test func everyTransportOverTLS() async throws {
        try await withTestTLS { directory, _ in
            try await withRiver(.live, .testing(tls: directory)) { river in
                try await HTTP2Tests.everyTransport(try await river.connectHTTP2())
            }
        }
    }
}
