import Foundation
import NIOCore
import RiverServer
import RiverTesting
import Testing

/// `river-bench`'s multi-channel scenarios against a real server at small
/// sizes, so they cannot rot unseen: multi-channel fan-out over every
/// transport delivers each connection exactly the messages of its channels,
/// idle memory is read per connection and per subscription, and presence
/// churn counts every join and leave and leaves nobody listed. (Speed is
/// never asserted here.)
@Suite(.serialized) struct MultiChannelBenchTests {
    /// 12 connections × 5 of 8 channels, 43 publishes round robin: channels
    /// 0–2 get 6, the others 5; connection i is due the sum over channels
    /// i … i+4 (mod 8).
    @Test(arguments: ["stream", "sse", "websocket"])
    func multiFanoutDeliversEveryConnectionExactlyItsChannels(transport: String) async throws {
        let due = (0..<12).reduce(0) { total, connection in
            total + (0..<5).reduce(0) { sum, offset in sum + ((connection + offset) % 8 < 3 ? 6 : 5) }
        }
        try await withRiver(.live, threads: 2) { river in
            let report = try await runBench(
                [
                    "multi-fanout", "--connections", "12", "--per-connection", "5", "--channels", "8",
                    "--publishes", "43", "--depth", "4", "--transport", transport, "--stall", "5",
                ],
                port: river.port
            )
            #expect(report["expected"] as? Int == due)
            #expect(report["deliveries"] as? Int == due)
            #expect(report["lost"] as? Int == 0)
            #expect(report["surplus"] as? Int == 0)
            #expect(report["connections_complete"] as? Int == 12)
            #expect(report["published"] as? Int == 43)
            #expect(report["failed"] as? Int == 0)
        }
    }

    /// A channel its connection never asked for would show as surplus: one
    /// connection on channels 0–1 of 2, the other on 1–0, every publish due
    /// to both.
    @Test func multiFanoutOverlappingSetsCountEachDeliveryOnce() async throws {
        try await withRiver(.live, threads: 2) { river in
            let report = try await runBench(
                [
                    "multi-fanout", "--connections", "2", "--per-connection", "2", "--channels", "2", "--publishes",
                    "10",
                ],
                port: river.port
            )
            #expect(report["deliveries"] as? Int == 20)
            #expect(report["surplus"] as? Int == 0)
            #expect(report["connections_complete"] as? Int == 2)
        }
    }

    @Test(arguments: ["stream", "websocket"])
    func idleReadsMemoryPerMultiChannelConnection(transport: String) async throws {
        let river = try await RiverProcess.start(["--threads", "1"])
        let report = try await runBench(
            [
                "idle", "--subscribers", "1000", "--channels", "40", "--per-connection", "20", "--transport", transport,
                "--server-pid", String(river.process.processIdentifier), "--settle", "0.2",
            ],
            port: river.port
        )
        river.signal(SIGTERM)
        #expect(try await river.exited(within: .seconds(10)) == 0)
        #expect(report["channels_per_connection"] as? Int == 20)
        #expect((report["server_rss_after_bytes"] as? Int ?? 0) > (report["server_rss_before_bytes"] as? Int ?? 0))
        let perConnection = (report["bytes_per_connection"] as? NSNumber)?.doubleValue ?? 0
        let perSubscription = (report["bytes_per_subscription"] as? NSNumber)?.doubleValue ?? 0
        #expect(perConnection > 0 && abs(perSubscription * 20 - perConnection) < 1, "\(report)")
    }

    static var presenceChurnConfiguration: RiverConfiguration {
        var configuration = RiverConfiguration.testing
        configuration.presenceSelfNames = true
        configuration.presenceLeaveDelay = .zero
        configuration.maxCommandsPerSecond = 100_000
        return configuration
    }

    /// 4 clients join and leave 3 channels 50 times in all, 2 watchers on
    /// every channel: each watcher gets 50 joins and 50 leaves, and at the
    /// end only the watchers are left on the channels.
    @Test func presenceChurnDeliversEveryJoinAndLeaveAndLeavesNobodyListed() async throws {
        try await withRiver(.live, Self.presenceChurnConfiguration, threads: 2) { river in
            let report = try await runBench(
                [
                    "presence-churn", "--channels", "3", "--watchers", "2", "--clients", "4", "--joins", "50",
                    "--server-pid", String(getpid()), "--settle", "0.1",
                ],
                port: river.port
            )
            #expect(report["joins"] as? Int == 50)
            // A client rejoining before its zero-delay leave has run is neither a leave nor a
            // join (PROTOCOL C3); a loaded machine makes that happen, so events come in pairs
            // rather than exactly 100 each.
            let joins = report["joins_delivered"] as? Int ?? -1
            #expect(joins == report["leaves_delivered"] as? Int && joins > 0 && joins <= 100, "\(report)")
            #expect(report["presence_users_after"] as? Int == 0)
            #expect(report["presence_connections_after"] as? Int == 6)
            #expect(report["server_cpu_us_per_join_and_leave"] != nil)
            #expect(report["failed"] as? Int == 0)
        }
    }

    /// `--rate` paces the clients: 40 joins at 200 a second take at least
    /// 0.15 s (each of 4 clients starts its tenth cycle 9 × 20 ms after its first).
    @Test func presenceChurnHoldsItsRate() async throws {
        try await withRiver(.live, Self.presenceChurnConfiguration, threads: 2) { river in
            let report = try await runBench(
                [
                    "presence-churn", "--channels", "2", "--watchers", "1", "--clients", "4", "--joins", "40",
                    "--rate", "200",
                ],
                port: river.port
            )
            #expect(report["joins"] as? Int == 40)
            // (Events may coalesce on a loaded machine, as above: only their pairing is checked.)
            #expect(report["joins_delivered"] as? Int == report["leaves_delivered"] as? Int, "\(report)")
            #expect(((report["seconds"] as? NSNumber)?.doubleValue ?? 0) >= 0.15, "\(report)")
        }
    }

    /// Without self-named presence the server refuses the clients' names: the run fails, it does not hang.
    @Test func presenceChurnFailsWhenTheServerRefusesNames() async throws {
        try await withRiver(.live, threads: 2) { river in
            await #expect(throws: BenchFailure.self) {
                _ = try await runBench(
                    ["presence-churn", "--channels", "1", "--clients", "1", "--joins", "1"],
                    port: river.port
                )
            }
        }
    }
}
