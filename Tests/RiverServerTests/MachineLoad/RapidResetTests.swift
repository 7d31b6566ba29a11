import RiverTesting
import Testing

@testable import RiverServer

extension MachineLoadTests {
    /// The rapid-reset flood (201 streams opened and cancelled) in the serial phase: the
    /// server counts resets within 30 s, and on a machine starved by the parallel suite the
    /// client's loop alone has outlasted that window. Its sibling, resets the server is made
    /// to send, runs beside it.
    @Suite struct RapidResetTests {
        /// CVE-2023-44487: a client that opens and cancels streams in a loop is sent GOAWAY and cut.
        @Test(arguments: TestRiver.Mode.allCases)
        func rapidResetIsCutWithGoAway(_ mode: TestRiver.Mode) async throws {
            try await withRiver(mode, HTTP2Tests.cleartext) { river in
                let h2 = try await river.connectHTTP2()
                try await h2.awaitSettings()
                // One reset past the limit: nothing is left unread when the server closes.
                for index in 0...ServerContext.http2ResetLimit.count {
                    let stream = UInt32(2 * index + 1)
                    try await h2.request(stream: stream, "GET", "/sse?name=reset&hello=1")
                    try await h2.reset(stream: stream)
                }
                let goAway = try await h2.nextFrame(on: 0, ofType: TestHTTP2Connection.FrameType.goAway)
                #expect(Array(goAway.payload[4..<8]) == [0, 0, 0, 0xB], "ENHANCE_YOUR_CALM")
                #expect(try await h2.connection.waitForClose())
                // The operator sees it: a protocol error, the HTTP/2 error its detail.
                let cuts = try await CutsTests.cuts(river)
                #expect(cuts["protocol_error"] as? Int == 1)
                let cut = try #require(CutsTests.recent(cuts).first)
                #expect(cut["transport"] as? String == "h2" && cut["reason"] as? String == "protocol_error")
                #expect((cut["detail"] as? String)?.contains("xcessive") == true, "\(cut)")
            }
        }

        /// CVE-2025-8671 ("made you reset"): a client that makes the server reset its streams
        /// (each request malformed: a connection-specific field, RFC 9113 section 8.2.2) gets
        /// RST_STREAM PROTOCOL_ERROR for each, then, past 200 of them
        /// (`HTTP2ConnectionHandler.malformedRequestLimit`), GOAWAY ENHANCE_YOUR_CALM, and is
        /// cut; its requests never reach a stream of River's.
        @Test(arguments: TestRiver.Mode.allCases)
        func provokedResetsAreCutWithGoAway(_ mode: TestRiver.Mode) async throws {
            try await withRiver(mode, HTTP2Tests.cleartext) { river in
                let h2 = try await river.connectHTTP2()
                try await h2.awaitSettings()
                try await h2.request(stream: 1, "GET", "/sse?name=made", headers: [("connection", "keep-alive")])
                let first = try await h2.nextFrame(on: 1)
                #expect(first.type == TestHTTP2Connection.FrameType.rstStream)
                #expect(first.payload == [0, 0, 0, 0x1], "PROTOCOL_ERROR")
                for index in 1...200 {
                    try await h2.request(
                        stream: UInt32(2 * index + 1),
                        "GET",
                        "/sse?name=made",
                        headers: [("connection", "keep-alive")]
                    )
                }
                let goAway = try await h2.nextFrame(on: 0, ofType: TestHTTP2Connection.FrameType.goAway)
                #expect(Array(goAway.payload[4..<8]) == [0, 0, 0, 0xB], "ENHANCE_YOUR_CALM")
                #expect(try await h2.connection.waitForClose())
                #expect(try await CutsTests.cuts(river)["protocol_error"] as? Int == 1)
            }
        }
    }
}
