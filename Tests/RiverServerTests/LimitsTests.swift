import Testing

/// Configuration keys that shape behaviour over time: `client_timeout` and `max_memory`.
@Suite struct LimitsTests {
    @Test func clientTimeoutEndsStreamsCleanly() async throws {
        try await withServer(configured { $0.clientTimeout = .seconds(1) }) { server in
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=t")
            #expect(try stream.readHead().status == 200)
            let start = ContinuousClock.now
            #expect(try stream.readChunk() == nil)
            #expect(try stream.waitForClose())
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(4))
        }
    }

    /// With a 64 KiB budget and 1 KiB messages on many channels, the oldest
    /// messages go first: early channels report them lost, the newest keeps all.
    @Test func maxMemoryBoundsRetainedHistoryOldestFirst() async throws {
        try await withServer(threads: 1, configured { $0.history.maxMemory = 64 * 1024 }) { server in
            let data = String(repeating: "k", count: 1024)
            let connection = try server.connect()
            for channel in 0..<20 {
                for _ in 0..<10 {
                    try connection.sendRequest("GET", "/publish?name=mem\(channel)&data=\(data)")
                    #expect(try connection.readResponse().status == 200)
                }
            }
            let oldest = try httpRequest(port: server.port, "GET", "/subscribe?name=mem0&seq=0&keep=0")
            #expect(oldest.body == "[\"lost\", {\"channel\": \"mem0\", \"from\": 1, \"to\": 10}]")
            let newest = try httpRequest(port: server.port, "GET", "/subscribe?name=mem19&seq=0&keep=0")
            #expect(newest.body.hasPrefix(riverMessage("mem19", 1, "\"\(data)\"")))
            // 64 KiB holds about 57 charged messages of 1 KiB: channels 14...19 at most.
            let middle = try httpRequest(port: server.port, "GET", "/subscribe?name=mem13&seq=0&keep=0")
            #expect(middle.body.hasPrefix("[\"lost\", {\"channel\": \"mem13\", \"from\": 1, \"to\": "))
        }
    }
}
