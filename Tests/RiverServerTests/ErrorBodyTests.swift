import RiverTesting
import Testing

@testable import RiverServer

/// Error answers quote what was wrong, but never as markup or as a second
/// line: what a request supplied is percent-escaped, and every error carries
/// `X-Content-Type-Options: nosniff`. In-process; an unparseable request also live.
@Suite struct ErrorBodyTests {
    @Test(arguments: [
        ("GET", "/<script>alert(1)</script>", 404, "no such resource: /%3Cscript%3Ealert(1)%3C/script%3E"),
        (
            "GET", "/subscribe?name=x&seq=%3Cimg%20src%3Dx%3E%0D%0Aevil", 400,
            "invalid 'seq' parameter: expected a non-negative integer, got '%3Cimg src=x%3E%0D%0Aevil'"
        ),
        ("GET", "/channels/%22%3E%3Cb%3E%25", 404, "no such resource: no such channel: %22%3E%3Cb%3E%25"),
        (
            "GET", "/subscribe?name=caf%C3%A9&callback=%3Csvg%3E", 400,
            "invalid 'callback' parameter: must be a JavaScript identifier path such as 'onMessage' or "
                + "'app.onMessage', at most 128 bytes"
        ),
        ("PUT", "/publish?name=%60x%60", 405, "method not allowed here; use GET, POST"),
        (
            "GET", "/sse?name=x&lastEventId=%E2%80%AE1", 400,
            "invalid 'lastEventId' parameter: expected a non-negative integer, got '%E2%80%AE1'"
        ),
    ])
    func inputIsEscapedAndNotSniffed(method: String, target: String, status: Int, reason: String) async throws {
        try await withRiver { river in
            let response = try await river.request(method, target)
            #expect(response.status == status)
            #expect(response.body == reason + "\n")
            #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
            #expect(response.header("X-Content-Type-Options") == "nosniff")
        }
    }

    @Test(
        .disabled(if: TestRiver.bridgesHTTP2, "HTTP/1.1 parsing: HTTP/2 has its own framing (HTTP2Tests)"),
        arguments: TestRiver.Mode.allCases
    )
    func unparseableRequestsToo(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let connection = try await river.connect()
            try await connection.send("GET /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: <b>gzip</b>\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 501)
            #expect(response.body == "transfer coding not supported (only chunked)\n", "nothing of the request echoed")
            #expect(response.header("X-Content-Type-Options") == "nosniff")
        }
    }

    @Test func escaping() {
        #expect(CompleteResponse.escapedReason("plain 'text' (ok): 1...2") == "plain 'text' (ok): 1...2")
        #expect(CompleteResponse.escapedReason("<a href=\"x\">&`\\%") == "%3Ca href=%22x%22%3E%26%60%5C%25")
        #expect(CompleteResponse.escapedReason("é\u{0}\u{7F}") == "%C3%A9%00%7F")
        #expect(LineLogHandler.escapingControlCharacters("one\ntwo\r\u{1B}[31m") == "one\\x0Atwo\\x0D\\x1B[31m")
        #expect(LineLogHandler.escapingControlCharacters("café — fine") == "café — fine")
    }
}
