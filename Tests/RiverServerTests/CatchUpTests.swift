import RiverTesting
import Testing

/// `seq` catch-up: the seed's example, lost and reset notices, and gapless,
/// duplicate-free resume while publishers race. In-process; the race also
/// runs live, on one and on two threads.
@Suite struct CatchUpTests {
    @Test func seedExampleSeq990After1000PublishesPushesExactlyTen() async throws {
        try await withRiver { river in
            try await river.publishPipelined("seed", count: 1000)
            let poller = try await river.connect()
            try await poller.sendRequest("GET", "/subscribe?name=seed&seq=990&keep=0")
            let response = try await poller.readResponse()
            let expected = (991...1000).map { riverMessage("seed", $0, "\"m\($0)\"") }.joined()
            #expect(response.body == expected)

            let streamer = try await river.connect()
            try await streamer.sendRequest("GET", "/subscribe?name=seed&seq=990")
            _ = try await streamer.readHead()
            for seq in 991...1000 {
                #expect(try await streamer.readChunk() == riverMessage("seed", seq, "\"m\(seq)\""))
            }
            _ = try await river.request("GET", "/publish?name=seed&data=live")
            #expect(try await streamer.readChunk() == riverMessage("seed", 1001, "\"live\""))
        }
    }

    @Test func olderThanHistorySaysLostFirst() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 5 }) { river in
            try await river.publishPipelined("short", count: 10)
            let poller = try await river.connect()
            try await poller.sendRequest("GET", "/subscribe?name=short&seq=2")
            _ = try await poller.readHead()
            #expect(try await poller.readChunk() == "[\"lost\", {\"channel\": \"short\", \"from\": 3, \"to\": 5}]")
            for seq in 6...10 {
                #expect(try await poller.readChunk() == riverMessage("short", seq, "\"m\(seq)\""))
            }
        }
    }

    @Test func aheadOfTheChannelSaysResetThenReplaysWhatIsRetained() async throws {
        try await withRiver { river in
            try await river.publishPipelined("ahead", count: 3)
            let response = try await river.request("GET", "/subscribe?name=ahead&seq=50&keep=0")
            #expect(
                maskingEpochs(response.body)
                    == "[\"reset\", {\"channel\": \"ahead\", \"seq\": 3, \"epoch\": E}]"
                    + (1...3).map { riverMessage("ahead", $0, "\"m\($0)\"") }.joined()
            )
            let fresh = try await river.request("GET", "/subscribe?name=never-used&seq=7&keep=0")
            #expect(maskingEpochs(fresh.body) == "[\"reset\", {\"channel\": \"never-used\", \"seq\": 0, \"epoch\": E}]")
        }
    }

    /// A channel that was deleted (or a server that restarted) counts again
    /// from 1: a client that says which epoch its seq belongs to gets a reset
    /// and the new history, instead of silently skipping the new messages 1...3.
    @Test func epochTellsIncarnationsApart() async throws {
        try await withRiver { river in
            try await river.publishPipelined("ep", count: 3)
            let hello = try await river.request("GET", "/subscribe?name=ep&seq=3&keep=0&hello=1").body
            let epoch = try #require(hello.firstMatch(of: /"epoch": ([0-9]+)/)?.1)
            #expect(hello == "[\"live\", {\"channel\": \"ep\", \"seq\": 3, \"epoch\": \(epoch)}]")

            #expect(try await river.request("DELETE", "/channels/ep").status == 200)
            try await river.publishPipelined("ep", count: 4)
            let withEpoch = try await river.request("GET", "/subscribe?name=ep&seq=3&epoch=\(epoch)&keep=0")
            #expect(
                maskingEpochs(withEpoch.body)
                    == "[\"reset\", {\"channel\": \"ep\", \"seq\": 4, \"epoch\": E}]"
                    + (1...4).map { riverMessage("ep", $0, "\"m\($0)\"") }.joined()
            )
            #expect(!withEpoch.body.contains("\"epoch\": \(epoch)"))
            let sameEpoch = try await river.request("GET", "/subscribe?name=ep&seq=3&keep=0&hello=1").body
            let newEpoch = try #require(sameEpoch.firstMatch(of: /"epoch": ([0-9]+)/)?.1)
            let current = try await river.request("GET", "/subscribe?name=ep&seq=3&epoch=\(newEpoch)&keep=0")
            #expect(current.body == riverMessage("ep", 4, "\"m4\""))
        }
    }

    @Test func helloAnnouncesALiveStart() async throws {
        try await withRiver { river in
            try await river.publishPipelined("hi", count: 2)
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=hi&hello=1")
            _ = try await stream.readHead()
            #expect(
                maskingEpochs(try await stream.readChunk() ?? "")
                    == "[\"live\", {\"channel\": \"hi\", \"seq\": 2, \"epoch\": E}]"
            )
            _ = try await river.request("GET", "/publish?name=hi&data=next")
            #expect(try await stream.readChunk() == riverMessage("hi", 3, "\"next\""))
        }
    }

    /// Four publishers race while a subscriber disconnects every few messages
    /// and resumes with the last seq it saw: it must see 1...N exactly once,
    /// in order, and each publisher's messages in the order they were sent.
    /// In-process the five interleave on the one loop; live, on one and on two
    /// threads, they race for real.
    @Test(arguments: [(TestRiver.Mode.inProcess, 1), (.live, 1), (.live, 2)])
    func resumeIsGaplessAndDuplicateFreeUnderConcurrentPublishers(mode: TestRiver.Mode, threads: Int) async throws {
        let publishers = 4
        let perPublisher = 300
        let total = publishers * perPublisher
        try await withRiver(mode, configured { $0.history.size = total }, threads: threads) { river in
            let seen = try await withThrowingTaskGroup(of: [(seq: Int, data: String)].self) { group in
                for index in 0..<publishers {
                    group.addTask {
                        let connection = try await river.connect()
                        for counter in 0..<perPublisher {
                            try await connection.sendRequest("GET", "/publish?name=race&data=p\(index)-\(counter)")
                            let response = try await connection.readResponse()
                            guard response.status == 200 else { throw TestFailure(response.body) }
                            // Lets the subscriber's reconnects interleave with the publishes.
                            if counter % 50 == 0 { try await Task.sleep(for: .milliseconds(1)) }  // (pacing)
                        }
                        await connection.close()
                        return []
                    }
                }
                group.addTask { try await Self.resumeUntil(total, on: river) }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(seen.map(\.seq) == Array(1...total))
            for publisher in 0..<publishers {
                let own = seen.map(\.data).filter { $0.hasPrefix("p\(publisher)-") }
                #expect(own == (0..<perPublisher).map { "p\(publisher)-\($0)" })
            }
        }
    }

    /// Subscribes to `race` from seq 0, takes 1 to 7 messages, disconnects and
    /// resumes from the last seq seen, until seq `total`; returns what it read.
    static func resumeUntil(_ total: Int, on river: TestRiver) async throws -> [(seq: Int, data: String)] {
        var received: [(seq: Int, data: String)] = []
        var last = 0
        var reconnects = 0
        while last < total {
            let connection = try await river.connect()
            try await connection.sendRequest("GET", "/subscribe?name=race&seq=\(last)")
            _ = try await connection.readHead()
            let take = 1 + reconnects % 7
            for _ in 0..<take where last < total {
                guard let chunk = try await connection.readChunk() else { break }
                let message = try parseMessage(chunk)
                received.append(message)
                last = message.seq
            }
            await connection.close()
            reconnects += 1
        }
        return received
    }
}
