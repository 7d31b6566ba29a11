import RiverTesting
import Testing

@testable import RiverServer

/// CORS, the static files and the original's legacy endpoints. In-process;
/// the first test also runs live.
@Suite struct CrossOriginTests {
    @Test(arguments: TestRiver.Mode.allCases)
    func everyOriginReadsWithoutCredentials(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let preflight = try await river.request(
                "OPTIONS",
                "/publish?name=x",
                headers: [
                    "Origin: https://app.example", "Access-Control-Request-Method: POST",
                    "Access-Control-Request-Headers: content-type",
                ]
            )
            #expect(preflight.status == 204)
            #expect(preflight.head.header("Access-Control-Allow-Origin") == "*")
            #expect(preflight.head.header("Access-Control-Allow-Credentials") == nil)
            #expect(preflight.head.header("Access-Control-Allow-Methods") == "GET, POST, DELETE, OPTIONS")
            #expect(
                preflight.head.header("Access-Control-Allow-Headers")
                    == "Authorization, Content-Type, Last-Event-ID, X-River-Secret"
            )

            let publish = try await river.request(
                "POST",
                "/publish?name=x",
                headers: ["Origin: https://app.example", "Content-Type: text/plain"],
                body: "hi"
            )
            #expect(publish.head.header("Access-Control-Allow-Origin") == "*")
            #expect(publish.head.header("Access-Control-Allow-Credentials") == nil)

            let stream = try await river.connect()
            try await stream.sendRequest(
                "GET",
                "/subscribe?name=x&seq=0&keep=0",
                headers: ["Origin: https://app.example"]
            )
            #expect(try await stream.readResponse().head.header("Access-Control-Allow-Origin") == "*")

            let plain = try await river.request("GET", "/publish?name=x&data=y")
            #expect(plain.head.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test func originsListedByNameGetCredentials() async throws {
        let listed = configured { $0.allowedOrigins = try! CORSPolicy("* https://app.example") }
        try await withRiver(.inProcess, listed) { river in
            let listed = try await river.request(
                "GET",
                "/publish?name=x&data=y",
                headers: ["Origin: https://app.example"]
            )
            #expect(listed.head.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(listed.head.header("Access-Control-Allow-Credentials") == "true")
            #expect(listed.head.header("Vary") == "Origin")
            let other = try await river.request(
                "GET",
                "/publish?name=x&data=z",
                headers: ["Origin: https://other.example"]
            )
            #expect(other.head.header("Access-Control-Allow-Origin") == "*")
            #expect(other.head.header("Access-Control-Allow-Credentials") == nil)
        }
    }

    @Test func originsOutsideTheListAreRefused() async throws {
        let listed = configured { $0.allowedOrigins = try! CORSPolicy("https://a.example, https://b.example:8443") }
        try await withRiver(.inProcess, listed) { river in
            let refused = try await river.request(
                "GET",
                "/publish?name=x&data=y",
                headers: ["Origin: https://c.example"]
            )
            #expect(refused.status == 403)
            #expect(refused.body == "origin https://c.example is not allowed (allowed_origins)\n")
            let allowed = try await river.request(
                "GET",
                "/publish?name=x&data=y",
                headers: ["Origin: https://b.example:8443"]
            )
            #expect(allowed.status == 200)
        }
    }

    @Test func allowedOriginsConfiguration() throws {
        #expect(throws: ConfigurationError("'example.com' is not an origin like https://example.com (or *)")) {
            _ = try CORSPolicy("example.com")
        }
        #expect(try CORSPolicy("*").allows("http://anything"))
        #expect(try !CORSPolicy("*").isListed("http://anything"))
        #expect(try CORSPolicy("https://a.example").trustsCookies(from: "https://a.example"))
        #expect(try !CORSPolicy("*").trustsCookies(from: "https://a.example"))
        #expect(try CORSPolicy("*").trustsCookies(from: nil))
        // Byte for byte: U+212A KELVIN SIGN is canonically equivalent to "K", not the same origin.
        #expect(try !CORSPolicy("https://K.example").allows("https://\u{212A}.example"))
    }

    @Test(arguments: [
        ("/lib.js", "application/javascript; charset=utf-8"),
        ("/iframe", "text/html; charset=utf-8"),
        ("/chat", "text/html; charset=utf-8"),
        ("/crossdomain.xml", "text/x-cross-domain-policy"),
    ])
    func staticFilesAreServed(path: String, contentType: String) async throws {
        try await withRiver { river in
            let response = try await river.request("GET", path)
            #expect(response.status == 200, "\(path)")
            #expect(response.head.header("Content-Type") == contentType)
            #expect(!response.body.isEmpty)
        }
    }

    @Test func staticFilesRevalidateWithETags() async throws {
        try await withRiver { river in
            let first = try await river.request("GET", "/lib.js")
            #expect(first.head.header("Cache-Control") == "no-cache")
            let etag = try #require(first.head.header("ETag"))
            // On a connection of its own: a 304 has no body, and nothing follows it.
            let revalidating = try await river.connect()
            try await revalidating.sendRequest("GET", "/lib.js", headers: ["If-None-Match: \(etag)"])
            let again = try await revalidating.readResponse()
            #expect(again.status == 304)
            #expect(again.body.isEmpty && (again.header("Content-Length") ?? "0") == "0")
            #expect(try await revalidating.unreadBytesNow() == [])
            let stale = try await river.request("GET", "/lib.js", headers: ["If-None-Match: \"old\""])
            #expect(stale.status == 200)
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "a bare policy request is not HTTP: it has no HTTP/2 form"))
    func rawFlashPolicyRequestGetsThePolicyAndNUL() async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            try await connection.send(Array("<policy-file-request/>".utf8) + [0])
            let answer = try await connection.readToEnd()
            #expect(
                String(decoding: answer, as: UTF8.self).contains("<allow-access-from domain=\"*\" to-ports=\"*\"/>")
            )
            #expect(answer.last == 0)
        }
    }
}
