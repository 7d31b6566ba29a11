import RiverTesting
import Testing

/// Every refusal is a clear status with a one-line reason, and never disturbs
/// other connections.
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

    @Test func eachBadRequestGetsItsStatusAndAOneLineReason() async throws {
        try await withServer(
            configured {
                $0.maxChannelName = 32
                $0.maxMessageSize = 100
            }
        ) { server in
            // All on one keep-alive connection: a refusal does not end it.
            let connection = try server.connect()
            for (target, status, reason) in Self.cases {
                try connection.sendRequest("GET", target)
                let response = try connection.readResponse()
                #expect(response.status == status, "\(target)")
                #expect(response.body == reason + "\n", "\(target)")
                #expect(response.head.header("Content-Type") == "text/plain; charset=utf-8")
            }
        }
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        try await withServer { server in
            let response = try httpRequest(port: server.port, "DELETE", "/publish?name=x&data=y")
            #expect(response.status == 405)
            #expect(response.head.header("Allow") == "GET, POST")
        }
    }

    @Test func rawBodyOverTheMessageLimitIs413() async throws {
        try await withServer(configured { $0.maxMessageSize = 100 }) { server in
            let response = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=x",
                headers: ["Content-Type: text/plain"],
                body: String(repeating: "b", count: 101)
            )
            #expect(response.status == 413)
            let fits = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=x",
                headers: ["Content-Type: text/plain"],
                body: String(repeating: "b", count: 100)
            )
            #expect(fits.status == 200)
        }
    }

    @Test func declaredBodyOverTheRequestLimitIs413BeforeAnyBodyIsSent() async throws {
        try await withServer(configured { $0.maxMessageSize = 100 }) { server in
            let connection = try server.connect()
            try connection.send("POST /publish?name=x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            let response = try connection.readResponse()
            #expect(response.status == 413)
            #expect(response.body == "request body is larger than 4396 bytes\n")
            #expect(try connection.waitForClose())
        }
    }

    @Test func unparseableRequestIs400AndClosesOnlyThatConnection() async throws {
        try await withServer { server in
            let subscriber = try server.connect()
            try subscriber.sendRequest("GET", "/subscribe?name=calm")
            _ = try subscriber.readHead()
            let publisher = try server.connect()

            for junk in [
                "\u{1}\u{2}garbage\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
                "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
                "POST /publish HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            ] {
                let bad = try server.connect()
                try bad.send(junk)
                let response = try bad.readResponse()
                #expect([400, 505].contains(response.status), "\(junk.debugDescription)")
                #expect(response.head.header("Connection") == "close")
                #expect(response.body.filter { $0 == "\n" }.count == 1)
                #expect(try bad.waitForClose())
            }

            try publisher.sendRequest("GET", "/publish?name=calm&data=still-here")
            #expect(try publisher.readResponse().status == 200)
            #expect(try subscriber.readChunk() == riverMessage("calm", 1, "\"still-here\""))
        }
    }

    @Test func overMaxConnectionsIs503AndASlotFreesUp() async throws {
        try await withServer(configured { $0.maxConnections = 3 }) { server in
            var open: [SocketConnection] = []
            for _ in 0..<3 {
                let connection = try server.connect()
                try connection.sendRequest("GET", "/publish?name=full&data=x")
                #expect(try connection.readResponse().status == 200)
                open.append(connection)
            }
            let refused = try server.connect()
            try refused.sendRequest("GET", "/publish?name=full&data=x")
            let response = try refused.readResponse()
            #expect(response.status == 503)
            #expect(response.body == "server is at its connection limit (3)\n")
            #expect(try refused.waitForClose())

            open.removeLast().close()
            var status = 0
            for _ in 0..<50 where status != 200 {
                try await Task.sleep(for: .milliseconds(20))
                status = try httpRequest(port: server.port, "GET", "/publish?name=full&data=y").status
            }
            #expect(status == 200)
        }
    }

    @Test func oversizedRequestLineIs414AndHeadersAre431() async throws {
        try await withServer { server in
            let long = try server.connect()
            try long.send("GET /publish?name=x&data=\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try long.readResponse().status == 414)

            let fat = try server.connect()
            try fat.send(
                "GET /publish?name=x&data=y HTTP/1.1\r\nHost: x\r\n"
                    + String(repeating: "X-Filler: \(String(repeating: "f", count: 100))\r\n", count: 200) + "\r\n"
            )
            #expect(try fat.readResponse().status == 431)
        }
    }
}
