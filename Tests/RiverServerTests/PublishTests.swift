import Foundation
import RiverTesting
import Testing

/// `/publish`: every way of sending a message, sequence numbers under
/// concurrency, keep-alive and pipelining. In-process; concurrency and
/// pipelining across event loops also run live, on two threads.
@Suite struct PublishTests {
    @Test func rawBodyIsTheMessageByteForByte() async throws {
        try await withRiver { river in
            let body = "{\"json\": [1, 2]}\r\nline two & name=ignored %41"
            for contentType in ["application/json", "text/plain; charset=utf-8", nil] {
                let headers = contentType.map { ["Content-Type: \($0)"] } ?? []
                let response = try await river.request("POST", "/publish?name=raw", headers: headers, body: body)
                #expect(response.status == 200)
                #expect(response.header("Content-Type") == "application/json")
            }
            let replay = try await river.request("GET", "/subscribe?name=raw&seq=0&keep=0")
            let expectedData = "\"{\\\"json\\\": [1, 2]}\\r\\nline two & name=ignored %41\""
            #expect(replay.body == (1...3).map { riverMessage("raw", $0, expectedData) }.joined())
        }
    }

    @Test func formBodyWinsOverQueryForTheKeysItNames() async throws {
        try await withRiver { river in
            let response = try await river.request(
                "POST",
                "/publish?name=query-name&data=query-data",
                headers: ["Content-Type: application/x-www-form-urlencoded"],
                body: "data=body+data%21"
            )
            #expect(response.body == "{\"channel\": \"query-name\", \"seq\": 1}")
            let replay = try await river.request("GET", "/subscribe?name=query-name&seq=0&keep=0")
            #expect(replay.body == riverMessage("query-name", 1, "\"body data!\""))
        }
    }

    @Test func emptyDataIsAMessage() async throws {
        try await withRiver { river in
            #expect(try await river.request("GET", "/publish?name=e&data=").status == 200)
            let empty = try await river.request(
                "POST",
                "/publish?name=e",
                headers: ["Content-Type: text/plain"],
                body: ""
            )
            #expect(empty.body == "{\"channel\": \"e\", \"seq\": 2}")
            let noType = try await river.request("POST", "/publish?name=e", body: "")
            #expect(noType.status == 400)
            let replay = try await river.request("GET", "/subscribe?name=e&seq=0&keep=0")
            #expect(replay.body == riverMessage("e", 1, "\"\"") + riverMessage("e", 2, "\"\""))
        }
    }

    @Test func chunkedRequestBodyAndExpectContinue() async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            try await connection.send(
                "POST /publish?name=ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
            )
            #expect(try await connection.readResponse().body == "{\"channel\": \"ch\", \"seq\": 1}")

            try await connection.send(
                "POST /publish?name=ch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                    + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"
            )
            #expect(try await connection.readHead().status == 100)
            try await connection.send("abc")
            #expect(try await connection.readResponse().body == "{\"channel\": \"ch\", \"seq\": 2}")
            let replay = try await river.request("GET", "/subscribe?name=ch&seq=0&keep=0")
            #expect(replay.body == riverMessage("ch", 1, "\"hello world\"") + riverMessage("ch", 2, "\"abc\""))
        }
    }

    @Test func publishingWithoutSubscribersStoresTheMessage() async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=nobody&data=kept")
            let replay = try await river.request("GET", "/subscribe?name=nobody&seq=0&keep=0")
            #expect(replay.body == riverMessage("nobody", 1, "\"kept\""))
        }
    }

    /// Eight publishers at once: in-process their requests interleave on the
    /// one loop; live, on one and on two threads, they race for real.
    @Test(arguments: [(TestRiver.Mode.inProcess, 1), (.live, 1), (.live, 2)])
    func seqHasNoGapUnderManyConcurrentPublishers(mode: TestRiver.Mode, threads: Int) async throws {
        let publishers = 8
        let each = 150
        try await withRiver(mode, threads: threads) { river in
            let seqs = try await withThrowingTaskGroup(of: [Int].self) { group in
                for index in 0..<publishers {
                    group.addTask {
                        try await Self.publish(each, on: river, sharingOneConnection: index % 2 == 0, tag: index)
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(seqs.sorted() == Array(1...(publishers * each)))
        }
    }

    /// Publishes `count` messages to `busy`, on one keep-alive connection or on
    /// a fresh connection each time; returns the seqs answered.
    static func publish(
        _ count: Int,
        on river: TestRiver,
        sharingOneConnection: Bool,
        tag: Int
    ) async throws -> [Int] {
        let shared = sharingOneConnection ? try await river.connect() : nil
        var seqs: [Int] = []
        for counter in 0..<count {
            let connection: TestConnection
            if let shared { connection = shared } else { connection = try await river.connect() }
            try await connection.sendRequest("GET", "/publish?name=busy&data=\(tag)-\(counter)")
            let response = try await connection.readResponse()
            if shared == nil { await connection.close() }
            let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            guard let seq = object?["seq"] as? Int else { throw TestFailure(response.body) }
            seqs.append(seq)
        }
        await shared?.close()
        return seqs
    }

    /// Live on two threads, channels spread over both event loops, so some
    /// answers come back from another loop; in-process, the same on one.
    @Test(arguments: TestRiver.Mode.allCases)
    func thousandsOfPipelinedPublishesOnOneConnectionAnswerInOrder(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, threads: 2) { river in
            let connection = try await river.connect()
            let count = 5000
            var requests: [UInt8] = []
            for index in 1...count {
                requests += TestConnection.request("GET", "/publish?name=pipe\(index % 7)&data=\(index)")
            }
            try await connection.send(requests)
            var perChannel = [Int](repeating: 0, count: 7)
            for index in 1...count {
                let response = try await connection.readResponse()
                perChannel[index % 7] += 1
                #expect(response.body == "{\"channel\": \"pipe\(index % 7)\", \"seq\": \(perChannel[index % 7])}")
            }
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "`Connection` is HTTP/1.1's (RFC 9113 section 8.2.2)"))
    func connectionCloseIsHonoured() async throws {
        try await withRiver { river in
            let connection = try await river.connect()
            try await connection.sendRequest("GET", "/publish?name=c&data=x", headers: ["Connection: close"])
            let response = try await connection.readResponse()
            #expect(response.header("Connection") == "close")
            #expect(try await connection.waitForClose())
        }
    }

    @Test(.disabled(if: TestRiver.bridgesHTTP2, "HTTP/1.0 has no HTTP/2 form"))
    func http10KeepAliveOnlyWhenAsked() async throws {
        try await withRiver { river in
            let plain = try await river.connect()
            try await plain.send("GET /publish?name=h&data=x HTTP/1.0\r\n\r\n")
            #expect(try await plain.readResponse().status == 200)
            #expect(try await plain.waitForClose())

            let kept = try await river.connect()
            try await kept.send("GET /publish?name=h&data=y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try await kept.readResponse()
            #expect(response.header("Connection") == "keep-alive")
            try await kept.send("GET /publish?name=h&data=z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.readResponse().body == "{\"channel\": \"h\", \"seq\": 3}")
        }
    }
}
