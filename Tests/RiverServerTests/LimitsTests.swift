import Foundation
import RiverTesting
import Testing

/// Configuration keys that shape behaviour over time: `client_timeout` and
/// `max_memory`. In-process: the server's clock moves when the test says.
@Suite struct LimitsTests {
    @Test func clientTimeoutEndsStreamsCleanly() async throws {
        try await withRiver(.inProcess, configured { $0.clientTimeout = .seconds(1) }) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/subscribe?name=t")
            #expect(try await stream.readHead().status == 200)
            await river.advance(by: .milliseconds(500))
            #expect(try await stream.unreadBytesNow() == [], "half the timeout: the stream is quiet and open")
            #expect(await !stream.isClosedByServer())
            await river.advance(by: .milliseconds(500))
            #expect(try await stream.readChunk() == nil, "at the timeout: the last chunk")
            // (Over HTTP/2 the last chunk is END_STREAM, and the connection stays for other streams.)
            if !TestRiver.bridgesHTTP2 { #expect(try await stream.waitForClose()) }
        }
    }

    /// With a 64 KiB budget and 1 KiB messages on many channels, the oldest
    /// messages go first, then the channels they left empty give their
    /// records' room to new ones (channel records are charged to max_memory
    /// too): the oldest channel is forgotten, the oldest one left reports
    /// what it lost, the newest keeps all.
    @Test func maxMemoryBoundsRetainedHistoryOldestFirst() async throws {
        try await withRiver(.inProcess, configured { $0.history.maxMemory = 64 * 1024 }) { river in
            let data = String(repeating: "k", count: 1024)
            let connection = try await river.connect()
            for channel in 0..<20 {
                for _ in 0..<10 {
                    try await connection.sendRequest("GET", "/publish?name=mem\(channel)&data=\(data)")
                    #expect(try await connection.readResponse().status == 200)
                }
            }
            #expect(try await river.request("GET", "/channels/mem0").status == 404)
            let oldest = try await river.request("GET", "/subscribe?name=mem0&seq=10&keep=0")
            #expect(maskingEpochs(oldest.body) == "[\"reset\", {\"channel\": \"mem0\", \"seq\": 0, \"epoch\": E}]")
            let newest = try await river.request("GET", "/subscribe?name=mem19&seq=0&keep=0")
            #expect(newest.body.hasPrefix(riverMessage("mem19", 1, "\"\(data)\"")))
            let listing = try await river.request("GET", "/channels?prefix=mem").body
            let alive = (1..<19).filter { listing.contains("\"mem\($0)\"") }  // (mem0 is new since the reset)
            let survivor = try #require(alive.first)
            let lost = try await river.request("GET", "/subscribe?name=mem\(survivor)&seq=0&keep=0")
            #expect(lost.body.hasPrefix("[\"lost\", {\"channel\": \"mem\(survivor)\", \"from\": 1, \"to\": "))
            let stats = try await river.request("GET", "/stats").body
            let figures = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any] ?? [:]
            #expect((figures["channels_reclaimed"] as? Int ?? 0) > 0)
            #expect((figures["history_bytes"] as? Int ?? .max) <= 64 * 1024)
        }
    }
}
