import RiverTesting
import Testing

@testable import RiverServer

/// CORS, the static files and the original's legacy endpoints.
@Suite struct CrossOriginTests {
    @Test func everyOriginReadsWithoutCredentials() async throws {
        try await withServer { server in
            let preflight = try httpRequest(
                port: server.port,
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

            let publish = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=x",
                headers: ["Origin: https://app.example", "Content-Type: text/plain"],
                body: "hi"
            )
            #expect(publish.head.header("Access-Control-Allow-Origin") == "*")
            #expect(publish.head.header("Access-Control-Allow-Credentials") == nil)

            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=x&seq=0&keep=0", headers: ["Origin: https://app.example"])
            #expect(try stream.readResponse().head.header("Access-Control-Allow-Origin") == "*")

            let plain = try httpRequest(port: server.port, "GET", "/publish?name=x&data=y")
            #expect(plain.head.header("Access-Control-Allow-Origin") == nil)
        }
    }

    @Test func originsListedByNameGetCredentials() async throws {
        try await withServer(configured { $0.allowedOrigins = try! CORSPolicy("* https://app.example") }) { server in
            let listed = try httpRequest(
                port: server.port,
                "GET",
                "/publish?name=x&data=y",
                headers: ["Origin: https://app.example"]
            )
            #expect(listed.head.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(listed.head.header("Access-Control-Allow-Credentials") == "true")
            #expect(listed.head.header("Vary") == "Origin")
            let other = try httpRequest(
                port: server.port,
                "GET",
                "/publish?name=x&data=z",
                headers: ["Origin: https://other.example"]
            )
            #expect(other.head.header("Access-Control-Allow-Origin") == "*")
            #expect(other.head.header("Access-Control-Allow-Credentials") == nil)
        }
    }

    @Test func originsOutsideTheListAreRefused() async throws {
        try await withServer(
            configured { $0.allowedOrigins = try! CORSPolicy("https://a.example, https://b.example:8443") }
        ) { server in
            let refused = try httpRequest(
                port: server.port,
                "GET",
                "/publish?name=x&data=y",
                headers: ["Origin: https://c.example"]
            )
            #expect(refused.status == 403)
            #expect(refused.body == "origin https://c.example is not allowed (allowed_origins)\n")
            let allowed = try httpRequest(
                port: server.port,
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
        try await withServer { server in
            let response = try httpRequest(port: server.port, "GET", path)
            #expect(response.status == 200, "\(path)")
            #expect(response.head.header("Content-Type") == contentType)
            #expect(!response.body.isEmpty)
        }
    }

    @Test func staticFilesRevalidateWithETags() async throws {
        try await withServer { server in
            let first = try httpRequest(port: server.port, "GET", "/lib.js")
            #expect(first.head.header("Cache-Control") == "no-cache")
            let etag = try #require(first.head.header("ETag"))
            let again = try httpRequest(port: server.port, "GET", "/lib.js", headers: ["If-None-Match: \(etag)"])
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
            let stale = try httpRequest(port: server.port, "GET", "/lib.js", headers: ["If-None-Match: \"old\""])
            #expect(stale.status == 200)
        }
    }

    @Test func rawFlashPolicyRequestGetsThePolicyAndNUL() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.send(Array("<policy-file-request/>".utf8) + [0])
            let answer = try connection.readToEnd()
            #expect(
                String(decoding: answer, as: UTF8.self).contains("<allow-access-from domain=\"*\" to-ports=\"*\"/>")
            )
            #expect(answer.last == 0)
        }
    }
}
