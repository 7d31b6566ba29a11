import Foundation
import Synchronization
import RiverTesting
import Testing

/// `/publish` over real sockets: every way of sending a message, sequence
/// numbers under concurrency, keep-alive and pipelining.
@Suite struct PublishTests {
    @Test func rawBodyIsTheMessageByteForByte() async throws {
        try await withServer { server in
            let body = "{\"json\": [1, 2]}\r\nline two & name=ignored %41"
            for contentType in ["application/json", "text/plain; charset=utf-8", nil] {
                let headers = contentType.map { ["Content-Type: \($0)"] } ?? []
                let response = try httpRequest(
                    port: server.port,
                    "POST",
                    "/publish?name=raw",
                    headers: headers,
                    body: body
                )
                #expect(response.status == 200)
                #expect(response.head.header("Content-Type") == "application/json")
            }
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=raw&seq=0&keep=0")
            let expectedData = "\"{\\\"json\\\": [1, 2]}\\r\\nline two & name=ignored %41\""
            #expect(replay.body == (1...3).map { riverMessage("raw", $0, expectedData) }.joined())
        }
    }

    @Test func formBodyWinsOverQueryForTheKeysItNames() async throws {
        try await withServer { server in
            let response = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=query-name&data=query-data",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "data=body+data%21"
            )
            #expect(response.body == "{\"channel\": \"query-name\", \"seq\": 1}")
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=query-name&seq=0&keep=0")
            #expect(replay.body == riverMessage("query-name", 1, "\"body data!\""))
        }
    }

    @Test func emptyDataIsAMessage() async throws {
        try await withServer { server in
            #expect(try httpRequest(port: server.port, "GET", "/publish?name=e&data=").status == 200)
            let empty = try httpRequest(
                port: server.port,
                "POST",
                "/publish?name=e",
                headers: ["Content-Type: text/plain"],
                body: ""
            )
            #expect(empty.body == "{\"channel\": \"e\", \"seq\": 2}")
            let noType = try httpRequest(port: server.port, "POST", "/publish?name=e", body: "")
            #expect(noType.status == 400)
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=e&seq=0&keep=0")
            #expect(replay.body == riverMessage("e", 1, "\"\"") + riverMessage("e", 2, "\"\""))
        }
    }

    @Test func chunkedRequestBodyAndExpectContinue() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.send(
                "POST /publish?name=ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
            )
            #expect(try connection.readResponse().body == "{\"channel\": \"ch\", \"seq\": 1}")

            try connection.send(
                "POST /publish?name=ch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
            )
            #expect(try connection.readHead().status == 100)
            try connection.send("abc")
            #expect(try connection.readResponse().body == "{\"channel\": \"ch\", \"seq\": 2}")
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=ch&seq=0&keep=0")
            #expect(replay.body == riverMessage("ch", 1, "\"hello world\"") + riverMessage("ch", 2, "\"abc\""))
        }
    }

    @Test func publishingWithoutSubscribersStoresTheMessage() async throws {
        try await withServer { server in
            _ = try httpRequest(port: server.port, "GET", "/publish?name=nobody&data=kept")
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=nobody&seq=0&keep=0")
            #expect(replay.body == riverMessage("nobody", 1, "\"kept\""))
        }
    }

    @Test(arguments: [1, 2])
    func seqHasNoGapUnderManyConcurrentPublishers(threads: Int) async throws {
        let publishers = 8
        let each = 150
        try await withServer(threads: threads) { server in
            let port = server.port
            let seqs = Mutex<[Int]>([])
            try await concurrently(publishers) { index in
                // Half publish on one keep-alive connection, half on a fresh connection each time.
                let shared = index % 2 == 0 ? try SocketConnection(port: port) : nil
                for counter in 0..<each {
                    let connection = try shared ?? SocketConnection(port: port)
                    try connection.sendRequest("GET", "/publish?name=busy&data=\(index)-\(counter)")
                    let response = try connection.readResponse()
                    if shared == nil { connection.close() }
                    let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
                    guard let seq = object?["seq"] as? Int else {
                        throw SocketConnection.Failure(description: response.body)
                    }
                    seqs.withLock { $0.append(seq) }
                }
            }
            #expect(seqs.withLock { $0.sorted() } == Array(1...(publishers * each)))
        }
    }

    @Test func thousandsOfPipelinedPublishesOnOneConnectionAnswerInOrder() async throws {
        try await withServer(threads: 2) { server in
            let connection = try server.connect()
            let count = 5000
            var requests = ""
            for index in 1...count {
                // Channels spread over both event loops, so some answers come back from another loop.
                requests += "GET /publish?name=pipe\(index % 7)&data=\(index) HTTP/1.1\r\nHost: x\r\n\r\n"
            }
            try connection.send(requests)
            var perChannel = [Int](repeating: 0, count: 7)
            for index in 1...count {
                let response = try connection.readResponse()
                perChannel[index % 7] += 1
                #expect(response.body == "{\"channel\": \"pipe\(index % 7)\", \"seq\": \(perChannel[index % 7])}")
            }
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withServer { server in
            let connection = try server.connect()
            try connection.sendRequest("GET", "/publish?name=c&data=x", headers: ["Connection: close"])
            let response = try connection.readResponse()
            #expect(response.head.header("Connection") == "close")
            #expect(try connection.waitForClose())
        }
    }

    @Test func http10KeepAliveOnlyWhenAsked() async throws {
        try await withServer { server in
            let plain = try server.connect()
            try plain.send("GET /publish?name=h&data=x HTTP/1.0\r\n\r\n")
            #expect(try plain.readResponse().status == 200)
            #expect(try plain.waitForClose())

            let kept = try server.connect()
            try kept.send("GET /publish?name=h&data=y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try kept.readResponse()
            #expect(response.head.header("Connection") == "keep-alive")
            try kept.send("GET /publish?name=h&data=z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try kept.readResponse().body == "{\"channel\": \"h\", \"seq\": 3}")
        }
    }
}
