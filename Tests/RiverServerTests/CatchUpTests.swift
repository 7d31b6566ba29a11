import Foundation
import Synchronization
import RiverTesting
import Testing

/// `seq` catch-up: the seed's example, lost and reset notices, and gapless,
/// duplicate-free resume while publishers race.
@Suite struct CatchUpTests {
    @Test func seedExampleSeq990After1000PublishesPushesExactlyTen() async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "seed", count: 1000)
            let poller = try server.connect()
            try poller.sendRequest("GET", "/subscribe?name=seed&seq=990&keep=0")
            let response = try poller.readResponse()
            let expected = (991...1000).map { riverMessage("seed", $0, "\"m\($0)\"") }.joined()
            #expect(response.body == expected)

            let streamer = try server.connect()
            try streamer.sendRequest("GET", "/subscribe?name=seed&seq=990")
            _ = try streamer.readHead()
            for seq in 991...1000 {
                #expect(try streamer.readChunk() == riverMessage("seed", seq, "\"m\(seq)\""))
            }
            _ = try httpRequest(port: server.port, "GET", "/publish?name=seed&data=live")
            #expect(try streamer.readChunk() == riverMessage("seed", 1001, "\"live\""))
        }
    }

    @Test func olderThanHistorySaysLostFirst() async throws {
        try await withServer(configured { $0.history.size = 5 }) { server in
            try publishPipelined(port: server.port, channel: "short", count: 10)
            let poller = try server.connect()
            try poller.sendRequest("GET", "/subscribe?name=short&seq=2")
            _ = try poller.readHead()
            #expect(try poller.readChunk() == "[\"lost\", {\"channel\": \"short\", \"from\": 3, \"to\": 5}]")
            for seq in 6...10 {
                #expect(try poller.readChunk() == riverMessage("short", seq, "\"m\(seq)\""))
            }
        }
    }

    @Test func aheadOfTheChannelSaysResetThenReplaysWhatIsRetained() async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "ahead", count: 3)
            let response = try httpRequest(port: server.port, "GET", "/subscribe?name=ahead&seq=50&keep=0")
            #expect(
                maskingEpochs(response.body)
                    == "[\"reset\", {\"channel\": \"ahead\", \"seq\": 3, \"epoch\": E}]"
                    + (1...3).map { riverMessage("ahead", $0, "\"m\($0)\"") }.joined()
            )
            let fresh = try httpRequest(port: server.port, "GET", "/subscribe?name=never-used&seq=7&keep=0")
            #expect(maskingEpochs(fresh.body) == "[\"reset\", {\"channel\": \"never-used\", \"seq\": 0, \"epoch\": E}]")
        }
    }

    /// A channel that was deleted (or a server that restarted) counts again
    /// from 1: a client that says which epoch its seq belongs to gets a reset
    /// and the new history, instead of silently skipping the new messages 1...3.
    @Test func epochTellsIncarnationsApart() async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "ep", count: 3)
            let hello = try httpRequest(port: server.port, "GET", "/subscribe?name=ep&seq=3&keep=0&hello=1").body
            let epoch = try #require(hello.firstMatch(of: /"epoch": ([0-9]+)/)?.1)
            #expect(hello == "[\"live\", {\"channel\": \"ep\", \"seq\": 3, \"epoch\": \(epoch)}]")

            #expect(try httpRequest(port: server.port, "DELETE", "/channels/ep").status == 200)
            try publishPipelined(port: server.port, channel: "ep", count: 4)
            let withEpoch = try httpRequest(port: server.port, "GET", "/subscribe?name=ep&seq=3&epoch=\(epoch)&keep=0")
            #expect(
                maskingEpochs(withEpoch.body)
                    == "[\"reset\", {\"channel\": \"ep\", \"seq\": 4, \"epoch\": E}]"
                    + (1...4).map { riverMessage("ep", $0, "\"m\($0)\"") }.joined()
            )
            #expect(!withEpoch.body.contains("\"epoch\": \(epoch)"))
            let sameEpoch = try httpRequest(port: server.port, "GET", "/subscribe?name=ep&seq=3&keep=0&hello=1").body
            let newEpoch = try #require(sameEpoch.firstMatch(of: /"epoch": ([0-9]+)/)?.1)
            let current = try httpRequest(port: server.port, "GET", "/subscribe?name=ep&seq=3&epoch=\(newEpoch)&keep=0")
            #expect(current.body == riverMessage("ep", 4, "\"m4\""))
        }
    }

    @Test func helloAnnouncesALiveStart() async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "hi", count: 2)
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=hi&hello=1")
            _ = try stream.readHead()
            #expect(
                maskingEpochs(try stream.readChunk() ?? "")
                    == "[\"live\", {\"channel\": \"hi\", \"seq\": 2, \"epoch\": E}]"
            )
            _ = try httpRequest(port: server.port, "GET", "/publish?name=hi&data=next")
            #expect(try stream.readChunk() == riverMessage("hi", 3, "\"next\""))
        }
    }

    /// Four publishers race while a subscriber disconnects every few messages
    /// and resumes with the last seq it saw: it must see 1...N exactly once,
    /// in order, and each publisher's messages in the order they were sent.
    @Test(arguments: [1, 2])
    func resumeIsGaplessAndDuplicateFreeUnderConcurrentPublishers(threads: Int) async throws {
        let publishers = 4
        let perPublisher = 300
        let total = publishers * perPublisher
        try await withServer(threads: threads, configured { $0.history.size = total }) { server in
            let port = server.port
            let received = Mutex<[Int]>([])
            let payloads = Mutex<[String]>([])
            try await concurrently(publishers + 1) { index in
                if index < publishers {
                    let connection = try SocketConnection(port: port)
                    for counter in 0..<perPublisher {
                        try connection.sendRequest("GET", "/publish?name=race&data=p\(index)-\(counter)")
                        let response = try connection.readResponse()
                        guard response.status == 200 else { throw SocketConnection.Failure(description: response.body) }
                        if counter % 50 == 0 { usleep(1000) }
                    }
                    return
                }
                var last = 0
                var reconnects = 0
                while last < total {
                    let connection = try SocketConnection(port: port)
                    try connection.sendRequest("GET", "/subscribe?name=race&seq=\(last)")
                    _ = try connection.readHead()
                    let take = 1 + reconnects % 7
                    for _ in 0..<take where last < total {
                        guard let chunk = try connection.readChunk() else { break }
                        let (seq, data) = try parseMessage(chunk)
                        received.withLock { $0.append(seq) }
                        payloads.withLock { $0.append(data) }
                        last = seq
                    }
                    connection.close()
                    reconnects += 1
                }
            }
            #expect(received.withLock { $0 } == Array(1...total))
            let seen = payloads.withLock { $0 }
            for publisher in 0..<publishers {
                let own = seen.filter { $0.hasPrefix("p\(publisher)-") }
                #expect(own == (0..<perPublisher).map { "p\(publisher)-\($0)" })
            }
        }
    }
}

/// Publishes `m1`...`mN` pipelined on one connection and checks every answer.
func publishPipelined(port: Int, channel: String, count: Int, from first: Int = 1) throws {
    let connection = try SocketConnection(port: port)
    defer { connection.close() }
    var requests = ""
    for seq in first..<(first + count) {
        requests += "GET /publish?name=\(channel)&data=m\(seq) HTTP/1.1\r\nHost: x\r\n\r\n"
    }
    try connection.send(requests)
    for _ in 0..<count {
        let response = try connection.readResponse()
        guard response.status == 200 else { throw SocketConnection.Failure(description: "publish: \(response.body)") }
    }
}

/// The seq and data of a river message chunk.
func parseMessage(_ chunk: String) throws -> (seq: Int, data: String) {
    let object = try JSONSerialization.jsonObject(with: Data(chunk.utf8)) as? [Any]
    guard let object, object.count == 2, object[0] as? String == "msg", let body = object[1] as? [String: Any],
        let seq = body["seq"] as? Int, let data = body["data"] as? String
    else {
        throw SocketConnection.Failure(description: "not a river message: \(chunk)")
    }
    return (seq, data)
}
