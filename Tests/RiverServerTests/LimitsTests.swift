import Foundation
import RiverTesting
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
    /// messages go first, then the channels they left empty give their
    /// records' room to new ones (channel records are charged to max_memory
    /// too): the oldest channel is forgotten, the oldest one left reports
    /// what it lost, the newest keeps all.
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
            #expect(try httpRequest(port: server.port, "GET", "/channels/mem0").status == 404)
            let oldest = try httpRequest(port: server.port, "GET", "/subscribe?name=mem0&seq=10&keep=0")
            #expect(maskingEpochs(oldest.body) == "[\"reset\", {\"channel\": \"mem0\", \"seq\": 0, \"epoch\": E}]")
            let newest = try httpRequest(port: server.port, "GET", "/subscribe?name=mem19&seq=0&keep=0")
            #expect(newest.body.hasPrefix(riverMessage("mem19", 1, "\"\(data)\"")))
            let listing = try httpRequest(port: server.port, "GET", "/channels?prefix=mem").body
            let alive = (1..<19).filter { listing.contains("\"mem\($0)\"") }  // (mem0 is new since the reset)
            let survivor = try #require(alive.first)
            let lost = try httpRequest(port: server.port, "GET", "/subscribe?name=mem\(survivor)&seq=0&keep=0")
            #expect(lost.body.hasPrefix("[\"lost\", {\"channel\": \"mem\(survivor)\", \"from\": 1, \"to\": "))
            let stats = try httpRequest(port: server.port, "GET", "/stats").body
            let figures = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any] ?? [:]
            #expect((figures["channels_reclaimed"] as? Int ?? 0) > 0)
            #expect((figures["history_bytes"] as? Int ?? .max) <= 64 * 1024)
        }
    }
}
