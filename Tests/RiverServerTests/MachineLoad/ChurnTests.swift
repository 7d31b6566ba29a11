import Foundation
import RiverTesting
import Testing

extension MachineLoadTests {
    /// Nothing a closed connection made stays behind, measured on the whole
    /// process: more than 20,000 connections of every kind (requests, kept-alive,
    /// pipelined, publishes with bodies, refusals, long-polls, streams, JSONP, SSE,
    /// WebSocket; half closed with a reset) opened, used and closed while
    /// `river-bench churn` samples the server's memory.
    @Suite struct ChurnTests {
        @Test func twentyThousandConnectionsLeaveNothingBehind() async throws {
            try await RiverProcess.with(["--threads", "2"]) { river in
                // (--duration is a cap: the run ends at 21,000 connections, in about 30 s on an idle
                // machine; beside busy loops it has taken minutes.)
                let report = try await runBench(
                    [
                        "churn", "--rate", "2000", "--connections", "21000", "--duration", "600", "--warmup", "0.2",
                        "--server-pid", String(river.process.processIdentifier),
                    ],
                    port: river.port
                )
                let connections = report["connections"] as? Int ?? 0
                let growth = report["rss_growth_after_warmup_bytes"] as? Int ?? .max
                #expect(connections >= 20_000, "\(report)")
                #expect(report["failed"] as? Int == 0, "\(report)")
                #expect(growth <= 2 << 20, "RSS grew \(growth) bytes after warm-up: \(report)")
            }
        }
    }
}
