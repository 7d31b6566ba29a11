import RiverTesting
import Testing

/// Every refusal is a clear status with a one-line reason, and never disturbs
/// other connections. In-process; the first test also runs live.
@Suite struct ErrorTests {
    static let cases: [(target: String, status: Int, reason: String)] = [
        ("/publish?data=x", 400, "missing 'name' parameter"),
        ("/publish?name=x", 400, "missing 'data' parameter"),
        ("/subscribe?keep=0", 400, "missing 'name' parameter"),
        ("/subscribe?name=x&seq=abc", 400, "invalid 'seq' parameter: expected a non-negative integer, got 'abc'"),
        ("/subscribe?name=x&seq=-1", 400, "invalid 'seq' parameter: expected a non-negative integer, got '-1'"),
        ("/subscribe?name=x&keep=yes", 400, "invalid 'keep' parameter: expected 0 or 1, got 'yes'"),
        ("/publish?name=&data=x", 400, "invalid 'name' parameter: channel name is empty"),
        ("/publish?name=%FF%FE&data=x", 400, "invalid 'name' parameter: channel name is not valid UTF-8"),
        ("/publish?name=a%0Ab&data=x", 400, "invalid 'name' parameter: channel name contains a control character"),
        ("/publish?name=%zz&data=x", 400, "invalid 'name' parameter: malformed percent-encoding"),
        ("/publish?name=x&data=%4", 400, "invalid 'data' parameter: malformed percent-encoding"),
        (
            "/publish?name=\(String(repeating: "n", count: 33))&data=x", 400,
            "invalid 'name' parameter: channel name is longer than 32 bytes"
        ),
        (
            "/publish?name=x&data=\(String(repeating: "d", count: 101))", 413,
            "message is larger than max_message_size (100 bytes)"
        ),
        ("/nowhere", 404, "no such resource: /nowhere"),
    ]

    @Test(arguments: TestRiver.Mode.allCases)
    func eachBadRequestGetsItsStatusAndAOneLineReason(_ mode: TestRiver.Mode) async throws {
        let limits = configured {
            $0.maxChannelName = 32
            $0.maxMessageSize = 100
        }
        try await withRiver(mode, limits) { river in
            // All on one keep-alive connection: a refusal does not end it.
            let connection = try await river.connect()
            for (target, status, reason) in Self.cases {
                try await connection.sendRequest("GET", target)
                let response = try await connection.readResponse()
                #expect(response.status == status, "\(target)")
                #expect(response.body == reason + "\n", "\(target)")
                #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
            }
        }
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        try await withRiver { river in
            let response = try await river.request("DELETE", "/publish?name=x&data=y")
            #expect(response.status == 405)
            #expect(response.header("Allow") == "GET, POST")
        }
    }

    @Test func rawBodyOverTheMessageLimitIs413() async throws {
        try await withRiver(.inProcess, configured { $0.maxMessageSize = 100 }) { river in
            let response = try await river.request(
                "POST",
                "/publish?name=x",
                headers: ["Content-Type: text/plain"],
                body: String(repeating: "b", count: 101)
            )
            #expect(response.status == 413)
            let fits = try await river.request(
                "POST",
                "/publish?name=x",
                headers: ["Content-Type: text/plain"],
                body: String(repeating: "b", count: 100)
            )
            #expect(fits.status == 200)
        }
    }

    @Test func declaredBodyOverTheRequestLimitIs413BeforeAnyBodyIsSent() async throws {
        try await withRiver(.inProcess, configured { $0.maxMessageSize = 100 }) { river in
            let connection = try await river.connect()
            try await connection.send("POST /publish?name=x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            let response = try await connection.readResponse()
            #expect(response.status == 413)
            #expect(response.body == "request body is larger than 4396 bytes\n")
            #expect(try await connection.waitForClose())
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "HTTP/1.1 parsing: HTTP/2 has its own framing (HTTP2Tests)"))
    func unparseableRequestIs400AndClosesOnlyThatConnection() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/subscribe?name=calm&hello=1")
            _ = try await subscriber.readHead()
            _ = try await subscriber.readChunk()  // the `live` notice: subscribed
            let publisher = try await river.connect()

            for junk in [
                "\u{1}\u{2}garbage\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
                "POST /publish HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            ] {
                let bad = try await river.connect()
                try await bad.send(junk)
                let response = try await bad.readResponse()
                #expect([400, 505].contains(response.status), "\(junk.debugDescription)")
                #expect(response.header("Connection") == "close")
                #expect(response.body.filter { $0 == "\n" }.count == 1)
                #expect(try await bad.waitForClose())
            }

            try await publisher.sendRequest("GET", "/publish?name=calm&data=still-here")
            #expect(try await publisher.readResponse().status == 200)
            #expect(try await subscriber.readChunk() == riverMessage("calm", 1, "\"still-here\""))
        }
    }

    /// In-process a closed connection gives its slot back at once: the next
    /// one is served without retrying.
    @Test(.disabled(if: TestRiver.bridgesHTTP2, "refused at accept, before a protocol is chosen: answered in HTTP/1.1"))
    func overMaxConnectionsIs503AndASlotFreesUp() async throws {
        try await withRiver(.inProcess, configured { $0.maxConnections = 3 }) { river in
            var open: [TestConnection] = []
            for _ in 0..<3 {
                let connection = try await river.connect()
                try await connection.sendRequest("GET", "/publish?name=full&data=x")
                #expect(try await connection.readResponse().status == 200)
                open.append(connection)
            }
            let refused = try await river.connect()
            try await refused.sendRequest("GET", "/publish?name=full&data=x")
            let response = try await refused.readResponse()
            #expect(response.status == 503)
            #expect(response.body == "server is at its connection limit (3)\n")
            #expect(try await refused.waitForClose())

            await open.removeLast().close()
            let status = try await river.request("GET", "/publish?name=full&data=y").status
            #expect(status == 200)
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "HTTP/1.1 parsing: HTTP/2 has its own framing (HTTP2Tests)"))
    func oversizedRequestLineIs414AndHeadersAre431() async throws {
        try await withRiver { river in
            let long = try await river.connect()
            try await long.send(
                "GET /publish?name=x&data=\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(try await long.readResponse().status == 414)

            let fat = try await river.connect()
            try await fat.send(
                "GET /publish?name=x&data=y HTTP/1.1\r\nHost: x\r\n"
                    + String(repeating: "X-Filler: \(String(repeating: "f", count: 100))\r\n", count: 200) + "\r\n"
            )
            #expect(try await fat.readResponse().status == 431)
        }
    }
}
