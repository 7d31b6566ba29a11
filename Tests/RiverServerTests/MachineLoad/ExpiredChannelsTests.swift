import Foundation
import RiverTesting
import Testing

extension MachineLoadTests {
    /// History TTLs free what they held, measured on the `river` process's memory.
    @Suite struct ExpiredChannelsTests {
        /// Channels are reclaimed once their history expires: after publishing to
        /// 100,000 distinct channels and waiting out the TTLs, the process's
        /// memory is back near where it started.
        @Test func hundredThousandExpiredChannelsAreReclaimed() async throws {
            // The TTL must outlast the publishing, or the first channels expire before the last are
            // published and the peak says little (beside busy loops publishing took 75 s, not 12): it
            // is set from this machine's pace now, measured on 2,000 channels first.
            let pace = try await RiverProcess.with(["--threads", "1"]) { calibration in
                let start = ContinuousClock.now
                try await Self.publishToDistinctChannels(port: calibration.port, prefix: "pace", count: 2000)
                return ContinuousClock.now - start
            }
            let ttl = max(10, Int((pace * 50 * 5 / 4).components.seconds) + 1)
            let river = try await RiverProcess.start(
                ["--threads", "1", "--history-ttl", "\(ttl)", "--channel-idle-ttl", "1"]
            )
            // Warm up allocator and code paths first.
            try await Self.publishToDistinctChannels(port: river.port, prefix: "warm", count: 2000)
            let baseline = try river.residentKiB()

            try await Self.publishToDistinctChannels(port: river.port, prefix: "c", count: 100_000)
            let peak = try river.residentKiB()
            let grown = peak - baseline
            // Expiry, then the idle TTL, then a reap pass: the memory comes back after the last TTL ends.
            var after = peak
            _ = try? await eventually("the memory is back", timeout: .seconds(ttl + 30), interval: .milliseconds(200)) {
                after = try river.residentKiB()
                return after - baseline < grown / 4
            }
            river.signal(SIGTERM)
            #expect(try await river.exited() == 0)

            #expect(
                grown > 10_000,
                "publishing should have cost memory: baseline \(baseline) KiB, peak \(peak) KiB (TTL \(ttl) s)"
            )
            #expect(after - baseline < grown / 4, "baseline \(baseline) KiB, peak \(peak) KiB, after \(after) KiB")
        }

        /// Publishes one message to each of `count` channels, pipelined over four connections.
        static func publishToDistinctChannels(port: Int, prefix: String, count: Int) async throws {
            let payload = String(repeating: "x", count: 200)
            var connections: [TestConnection] = []
            // (A debug server on a loaded machine can take longer than the kit's 10 s over a batch.)
            for _ in 0..<4 { connections.append(try await TestConnection.live(port: port, readTimeout: .seconds(120))) }
            var next = 0
            while next < count {
                let batch = min(1000, count - next)
                for (index, connection) in connections.enumerated() {
                    var requests = ""
                    for offset in stride(from: index, to: batch, by: connections.count) {
                        requests += "GET /publish?name=\(prefix)\(next + offset)&data=\(payload) HTTP/1.1\r\nHost: x\r\n\r\n"
                    }
                    try await connection.send(requests)
                }
                for (index, connection) in connections.enumerated() {
                    for _ in stride(from: index, to: batch, by: connections.count) {
                        let status = try await connection.readResponse().status
                        guard status == 200 else { throw TestFailure("publish answered \(status)") }
                    }
                }
                next += batch
            }
            for connection in connections { await connection.close() }
        }
    }
}
