import Foundation
import RiverTesting
import Testing

/// With several nodes on one Redis, each node's dashboard lists every node: each sends its
/// heartbeat on `river:nodes` once a second (watched or not), and a sample's `nodes` holds
/// the latest of each.
@Suite struct DashboardNodesTests: RiverNodeTesting {
    @Test func everyNodeOnOneRedisIsOnEachDashboard() async throws {
        let redis = try await RedisServerProcess.launch()
        let nodes = [
            try await RiverProcess.start(["--engine", "redis", "--redis", redis.url]),
            try await RiverProcess.start(["--engine", "redis", "--redis", redis.url, "--threads", "2"]),
        ]
        try await self.stopping(nodes) {
            let stream = try await TestConnection.live(port: nodes[0].port)
            try await stream.sendRequest("GET", "/stats/stream")
            #expect(try await stream.readHead().status == 200)
            // Samples come once a second; the other node's heartbeat within a few.
            var listed: [[String: Any]] = []
            var text = ""
            for _ in 0..<40 where listed.count < 2 {
                text += String(decoding: try await stream.readSome(), as: UTF8.self)
                // Whole events only: each ends with a blank line.
                while let end = text.range(of: "\n\n") {
                    let event = text[..<end.lowerBound]
                    text = String(text[end.upperBound...])
                    for line in event.split(separator: "\n") where line.hasPrefix("data: ") {
                        let data = Data(line.dropFirst(6).utf8)
                        let sample = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                        listed = sample?["nodes"] as? [[String: Any]] ?? []
                    }
                }
            }
            #expect(listed.count == 2, "\(listed)")
            #expect(Set(listed.compactMap { $0["node"] as? String }).count == 2, "two names: \(listed)")
            #expect(listed.allSatisfy { ($0["connections"] as? Int ?? -1) >= 0 && $0["resident_bytes"] is Int })
            await stream.close()
        }
    }
}
