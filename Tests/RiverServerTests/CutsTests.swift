import Foundation
import RiverTesting
import Testing

@testable import RiverServer

/// Who is being cut and why (issue 23): every connection the server ends for
/// cause is counted by reason in `/stats` (`cuts`), `/metrics`
/// (`river_connections_cut_total{reason}`) and the dashboard's samples, and
/// the latest few are kept with their peer, transport and a one-line detail —
/// a bounded list, whatever the rate. In-process, the clock in the test's hand.
@Suite struct CutsTests {
    /// `/stats`'s `cuts` object.
    static func cuts(_ river: TestRiver, headers: [String] = []) async throws -> [String: Any] {
        let stats = try await river.request("GET", "/stats", headers: headers)
        #expect(stats.status == 200)
        let document = try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any]
        return try #require(document?["cuts"] as? [String: Any], "\(stats.body)")
    }

    static func recent(_ cuts: [String: Any]) -> [[String: Any]] {
        cuts["recent"] as? [[String: Any]] ?? []
    }

    @Test func nothingIsListedBeforeAnyCut() async throws {
        try await withRiver { river in
            let cuts = try await Self.cuts(river)
            for reason in CutReason.allCases { #expect(cuts[reason.name] as? Int == 0, "\(reason)") }
            #expect(Self.recent(cuts).isEmpty)
        }
    }

    @Test func aSlowConsumerIsCountedAndListedWithItsPeerAndTransport() async throws {
        try await withRiver(configured { $0.maxSubscriberBacklog = 4096 }) { river in
            let slow = try await river.connect(from: "10.1.2.3")
            try await slow.sendRequest("GET", "/sse?name=flood&hello=1")
            #expect(try await slow.readHead().status == 200)
            _ = try await slow.readSome()
            await slow.stopReading()
            for _ in 0..<8 { _ = try await river.publish("flood", String(repeating: "x", count: 1000)) }
            // (Over HTTP/2 the stream's reset waits behind what the connection holds: it comes once the client reads.)
            if TestRiver.bridgesHTTP2 { await slow.resumeReading() }
            #expect(await slow.isClosedByServer())

            let cuts = try await Self.cuts(river)
            #expect(cuts["slow_consumer"] as? Int == 1)
            let cut = try #require(Self.recent(cuts).first)
            #expect(cut["peer"] as? String == "10.1.2.3:50000")
            #expect(cut["transport"] as? String == (TestRiver.bridgesHTTP2 ? "h2 sse" : "sse"))
            #expect(cut["reason"] as? String == "slow_consumer")
            #expect((cut["at"] as? Int ?? 0) > 1_700_000_000_000, "milliseconds since 1970")
        }
    }

    @Test(
        .disabled(if: TestRiver.bridgesHTTP2, "a request head sent in pieces is HTTP/1.1's (HTTP2Tests has HTTP/2's)")
    )
    func aRequestNotReadInTimeIsATimeout() async throws {
        try await withRiver(configured { $0.readTimeout = .seconds(1) }) { river in
            let loris = try await river.connect(from: "10.9.9.9")
            try await loris.send("GET /publish?name=calm&da")
            await river.advance(by: .seconds(3))
            #expect(try await loris.readResponse().status == 408)
            let cuts = try await Self.cuts(river)
            #expect(cuts["timeout"] as? Int == 1)
            let cut = try #require(Self.recent(cuts).first)
            #expect(cut["peer"] as? String == "10.9.9.9:50000")
            #expect(cut["detail"] as? String == "request not read within read_timeout")
        }
    }

    /// A WebSocket failed with 1002 is a protocol error, its close reason the detail; a
    /// client's own clean close is no cut.
    @Test func aWebSocketProtocolErrorIsListedWithItsCloseCode() async throws {
        try await withRiver { river in
            let clean = try await river.webSocket("/websocket?name=rsv")
            try await clean.send(opcode: 0x8, [0x03, 0xE8])
            #expect(try await clean.read().closeCode == 1000)
            let socket = try await river.webSocket("/websocket?name=rsv")
            try await socket.send(opcode: 0x1, Array("Hello".utf8), reserved: 0x40)
            #expect(try await socket.read().closeCode == 1002)
            let cuts = try await Self.cuts(river)
            #expect(cuts["protocol_error"] as? Int == 1)
            let cut = try #require(Self.recent(cuts).first)
            #expect(cut["transport"] as? String == "websocket")
            #expect((cut["detail"] as? String)?.hasPrefix("1002 ") == true, "\(cut)")
        }
    }

    /// 40 cuts: all counted, the 16 latest listed, newest first.
    @Test func theListIsBoundedNewestFirst() async throws {
        try await withRiver { river in
            for _ in 0..<40 {
                let socket = try await river.webSocket("/websocket?name=many")
                try await socket.send(opcode: 0x1, Array("x".utf8), reserved: 0x20)
                #expect(try await socket.read().closeCode == 1002)
            }
            let cuts = try await Self.cuts(river)
            #expect(cuts["protocol_error"] as? Int == 40)
            let times = Self.recent(cuts).compactMap { $0["at"] as? Int }
            #expect(times.count == ConnectionCuts.keptCuts)
            #expect(times == times.sorted(by: >))
        }
    }

    @Test func metricsAndTheDashboardCarryThem() async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=m")
            try await socket.send(opcode: 0x1, Array("x".utf8), reserved: 0x10)
            #expect(try await socket.read().closeCode == 1002)

            let metrics = try await river.request("GET", "/metrics").body
            #expect(metrics.contains(#"river_connections_cut_total{reason="protocol_error"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"river_connections_cut_total{reason="slow_consumer"} 0"#))

            let watcher = try await river.connect()
            try await watcher.sendRequest("GET", "/stats/stream")
            #expect(try await watcher.readHead().status == 200)
            await river.advance(by: .seconds(2))
            let samples = String(decoding: try await watcher.readSome(), as: UTF8.self)
            #expect(samples.contains(#""cuts": {"rates": {"slow_consumer": "#), "\(samples)")
            #expect(samples.contains(#""transport": "websocket", "reason": "protocol_error", "detail": "1002 "#))
        }
    }
}
