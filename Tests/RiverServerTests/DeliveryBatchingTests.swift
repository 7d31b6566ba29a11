import Foundation
import RiverTesting
import Testing

/// PROTOCOL.md C1 and issue 20: "one write per message batch per connection,
/// not per channel". Publishes to many channels arriving together reach a
/// connection carrying them all in a few writes: a visit of the hub for one
/// channel takes what waits for the connection's others, and the hub paces
/// rounds over all its channels. Counted from the server's write system calls
/// (`syscw` of /proc/PID/io), so it runs live, against a river process.
@Suite(.serialized) struct DeliveryBatchingTests {
    /// 50 connections each on the same 20 channels, 400 publishes round robin
    /// over them (10 in flight): 20,000 deliveries. Delivered one channel's
    /// round at a time, they took 9,728 writes over streams and 12,252 over
    /// `river.v2` (debug build); now about 2,100 and 3,100 (its 1,000
    /// subscribe acknowledgements included).
    @Test(arguments: ["stream", "websocket"])
    func aConnectionOnManyChannelsGetsTheirMessagesInFewWrites(transport: String) async throws {
        let river = try await RiverProcess.start(["--threads", "1"])
        let pid = river.process.processIdentifier
        let writesBefore = try Self.writeSystemCalls(of: pid)
        let report = try await runBench(
            [
                "multi-fanout", "--connections", "50", "--per-connection", "20", "--channels", "20",
                "--publishes", "400", "--depth", "10", "--transport", transport,
            ],
            port: river.port
        )
        let writes = try Self.writeSystemCalls(of: pid) - writesBefore
        river.signal(SIGTERM)
        #expect(try await river.exited(within: .seconds(10)) == 0)
        let deliveries = report["deliveries"] as? Int ?? 0
        #expect(deliveries == 20_000 && report["lost"] as? Int == 0, "\(report)")
        // Every write the run caused is counted (stream heads, acknowledgements, publish
        // answers), and still a write carries four deliveries or more on average.
        #expect(writes * 4 <= deliveries, "\(writes) writes for \(deliveries) deliveries")
    }

    /// The `syscw` line of /proc/PID/io: write system calls the process has made.
    static func writeSystemCalls(of pid: Int32) throws -> Int {
        let io = try String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)
        guard let line = io.split(separator: "\n").first(where: { $0.hasPrefix("syscw:") }),
            let count = Int(line.split(separator: " ").last ?? "")
        else { throw BenchFailure(description: "no syscw in /proc/\(pid)/io") }
        return count
    }
}
