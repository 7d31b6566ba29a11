import Foundation
import RiverTesting
import Testing

/// `river-bench` against a real server at small sizes: every scenario runs,
/// stops by itself and counts exactly. (Speed is never asserted here.)
@Suite(.serialized) struct BenchToolTests: RiverNodeTesting {
    func bench(_ arguments: [String], port: Int) async throws -> [String: Any] {
        try await runBench(arguments, port: port)
    }

    @Test(arguments: ["stream", "longpoll"])
    func benchCountsDeliveries(transport: String) async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(
                ["bench", "--readers", "3", "--writers", "2", "--messages", "300", "--transport", transport],
                port: server.port
            )
            #expect(report["failed"] as? Int == 0)
            #expect((report["received"] as? Int ?? 0) >= 300)
            #expect((report["publishes"] as? Int ?? 0) >= 100)
        }
    }

    @Test func benchDrivesTheOriginalRiverAPI() async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(
                [
                    "bench", "--readers", "2", "--writers", "2", "--messages", "100", "--publish-method", "GET",
                    "--publish-body", "query",
                ],
                port: server.port
            )
            #expect(report["failed"] as? Int == 0)
            #expect((report["received"] as? Int ?? 0) >= 100)
        }
    }

    @Test(arguments: [1, 10])
    func fanoutDeliversEveryMessageToEverySubscriber(depth: Int) async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(
                ["fanout", "--subscribers", "40", "--publishes", "10", "--depth", String(depth)],
                port: server.port
            )
            #expect(report["deliveries"] as? Int == 400)
            #expect(report["failed"] as? Int == 0)
        }
    }

    /// WebSocket fan-out in either format, compressed or not, delivers
    /// exactly; compressed, fewer bytes cross the wire, and the server's CPU
    /// per delivery is reported (the server here is this process).
    @Test(arguments: ["river", "raw"])
    func webSocketFanoutCountsBytesWithAndWithoutCompression(format: String) async throws {
        try await withRiver(.live) { server in
            var sizes: [Double] = []
            for compress in [false, true] {
                let report = try await self.bench(
                    [
                        "fanout", "--transport", "websocket", "--subscribers", "20", "--publishes", "10",
                        "--payload-size", "512", "--format", format, "--server-pid", String(getpid()),
                    ] + (compress ? ["--compress"] : []),
                    port: server.port
                )
                #expect(report["deliveries"] as? Int == 200)
                #expect(report["failed"] as? Int == 0)
                #expect(report["server_cpu_us_per_delivery"] != nil)
                sizes.append((report["bytes_per_delivery"] as? NSNumber)?.doubleValue ?? 0)
            }
            // 512 x's: uncompressed, more than 512 bytes a delivery; deflated, a few dozen.
            #expect(sizes[0] > 512 && sizes[1] < sizes[0] / 4, "\(sizes)")
        }
    }

    @Test func webSocketEchoSendsCompressedMessagesAndGetsThemBack() async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(
                ["ws-echo", "--clients", "2", "--messages", "200", "--window", "16", "--format", "raw", "--compress"],
                port: server.port
            )
            #expect(report["received"] as? Int == 400)
            #expect(report["failed"] as? Int == 0)
        }
    }

    @Test func publishCountsAnswersAndTheSubscriberGetsThemAll() async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(["publish", "--publishers", "3", "--duration", "0.5"], port: server.port)
            let published = report["published"] as? Int ?? 0
            #expect(published > 0)
            #expect((report["received"] as? Int ?? 0) >= published)
            #expect(report["failed"] as? Int == 0)
        }
    }

    @Test func latencyRecordsEveryDelivery() async throws {
        try await withRiver(.live) { server in
            let report = try await self.bench(
                ["latency", "--subscribers", "4", "--rate", "200", "--duration", "0.5"],
                port: server.port
            )
            #expect(report["deliveries"] as? Int == 400)
            #expect((report["p50_us"] as? Int ?? -1) >= 0)
            #expect((report["p999_us"] as? Int ?? 0) >= (report["p50_us"] as? Int ?? 0))
        }
    }

    @Test func idleReadsTheServersMemory() async throws {
        let river = try await RiverProcess.start(["--threads", "1"])
        let report = try await self.bench(
            [
                "idle", "--subscribers", "200", "--channels", "5", "--server-pid",
                String(river.process.processIdentifier),
                "--settle", "0.2",
            ],
            port: river.port
        )
        river.signal(SIGTERM)
        #expect(try await river.exited() == 0)
        #expect(report["subscribers"] as? Int == 200)
        #expect((report["server_rss_after_bytes"] as? Int ?? 0) > (report["server_rss_before_bytes"] as? Int ?? 0))
    }

    /// Multi-node mode: publishers on one node, subscribers spread over two
    /// others of the same service (Redis engine); every message crosses Redis.
    @Test func multiNodeRunsDeliverAcrossNodes() async throws {
        let redis = try await RedisServerProcess.launch()
        var nodes: [RiverProcess] = []
        for _ in 0..<3 {
            nodes.append(try await RiverProcess.start(["--engine", "redis", "--redis", redis.url, "--threads", "1"]))
        }
        try await self.stopping(nodes) {
            let others = ["--subscriber-port", String(nodes[1].port), "--subscriber-port", String(nodes[2].port)]
            let fanout = try await self.bench(
                ["fanout", "--subscribers", "40", "--publishes", "10"] + others,
                port: nodes[0].port
            )
            #expect(fanout["deliveries"] as? Int == 400)
            #expect(fanout["failed"] as? Int == 0)
            #expect(fanout["subscriber_ports"] as? String == "\(nodes[1].port),\(nodes[2].port)")

            let latency = try await self.bench(
                ["latency", "--subscribers", "4", "--rate", "200", "--duration", "0.5"] + others,
                port: nodes[0].port
            )
            #expect(latency["deliveries"] as? Int == 400)

            // The subscribers really were on the other nodes: the publishing node had none.
            let stats = try await TestConnection.request(port: nodes[0].port, "GET", "/stats")
            #expect(stats.body.contains("\"messages_delivered\": 0,"), "\(stats.body)")
        }
    }

    @Test func refusedSubscriptionsFailTheRun() async throws {
        try await withRiver(.live) { server in
            await #expect(throws: BenchFailure.self) {
                _ = try await self.bench(
                    ["fanout", "--subscribers", "2", "--subscribe-path", "/nowhere?name={channel}"],
                    port: server.port
                )
            }
        }
    }
}

/// `river-bench` failed, or its report is not JSON.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs `river-bench` with `arguments` against `port`; returns its JSON report.
func runBench(_ arguments: [String], port: Int) async throws -> [String: Any] {
    let process = try ChildProcess(
        RiverProcess.executable.deletingLastPathComponent().appendingPathComponent("river-bench").path,
        arguments + ["--port", String(port), "--json", "--quiet"],
        standardOutput: .pipe
    )
    let output = PipeReader(process.output!)
    guard let status = try await process.exited(within: .seconds(900)) else {
        try await process.stop()
        throw BenchFailure(description: "river-bench \(arguments) did not end within 15 minutes")
    }
    try await output.end()
    let data = output.bytes
    guard status == 0, let report = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw BenchFailure(
            description: "river-bench \(arguments) exited \(status): \(String(decoding: data, as: UTF8.self))"
        )
    }
    return report
}
