import Atomics
import NIOCore

/// Many channels on one connection (PROTOCOL.md C1, C2): connections that
/// each carry several channels of a pool, over one multi-channel HTTP stream
/// (or SSE stream) per connection or `river.v2` subscribe commands on one
/// WebSocket; nchan's multiplexed subscriber through `--target nchan`.
extension LoadGenerator {
    /// Opens `plan.connections` connections, `wave` at a time, each subscribed
    /// to its channels of the plan (`names` maps a pool index to a channel),
    /// and waits until every one is subscribed (its 200, or every `ok`).
    /// `query` is added to HTTP subscriptions and `fields` to each `river.v2`
    /// subscribe (`, "presence": true`); `expected` says what each connection
    /// is due, for the loss check.
    func subscribe(
        plan: ChannelPlan,
        transport: Transport,
        names: [String],
        query: String = "",
        fields: String = "",
        expected: (@Sendable (Int) -> Int)? = nil,
        wave: Int = 256
    ) async throws -> [Channel] {
        precondition(names.count == plan.pool)
        var connections: [Channel] = []
        connections.reserveCapacity(plan.connections)
        let target = self.target
        let tally = self.tally
        var next = 0
        while next < plan.connections {
            let end = min(next + wave, plan.connections)
            var futures: [EventLoopFuture<Channel>] = []
            for index in next..<end {
                let channels = plan.channels(of: index).map { names[$0] }
                let due = expected?(index)
                let address = self.subscriberAddresses[index % self.subscriberAddresses.count]
                if let request = target.multiSubscribeRequest(transport, channels: channels, query: query) {
                    futures.append(
                        self.connect(to: address) { _ in
                            SubscriberHandler(
                                request: request,
                                framing: transport.framing,
                                tally: tally,
                                latency: nil,
                                expected: due
                            )
                        }
                    )
                } else {
                    let handshake = target.commandHandshake()
                    futures.append(
                        self.connect(to: address) { _ in
                            CommandSubscriberHandler(
                                handshake: handshake,
                                channels: channels,
                                fields: fields,
                                tally: tally,
                                expected: due
                            )
                        }
                    )
                }
            }
            for future in futures { connections.append(try await future.get()) }
            next = end
        }
        let count = plan.connections
        try await self.wait(
            "subscribing",
            until: {
                self.tally.subscribed.load(ordering: .relaxed) + self.tally.failed.load(ordering: .relaxed) >= count
            },
            counting: Meter("connections", of: count) { self.tally.subscribed.load(ordering: .relaxed) }
        )
        let failed = self.tally.failed.load(ordering: .relaxed)
        guard failed == 0 else { throw BenchError("\(failed) of \(count) multi-channel subscriptions were refused") }
        return connections
    }

    /// `multi-fanout`: `plan.connections` connections each on
    /// `plan.perConnection` channels of a pool of `plan.pool`; `publishes`
    /// spread round robin over the pool on one keep-alive connection
    /// (`depth` in flight). Counts deliveries per second and checks that
    /// every connection got exactly what it was due: the run ends when all
    /// deliveries are in, or when none has arrived for `stall` (then the
    /// missing ones are reported as lost).
    func multiFanout(
        plan: ChannelPlan,
        publishes: Int,
        depth: Int,
        transport: Transport,
        payloadSize: Int,
        serverPIDs: [Int32] = [],
        stall: Duration = .seconds(10)
    ) async throws -> Report {
        let names = (0..<plan.pool).map { self.channelName($0) }
        let connections = try await self.subscribe(
            plan: plan,
            transport: transport,
            names: names,
            expected: { plan.expected(for: $0, publishes: publishes) }
        )
        let expected = plan.expectedDeliveries(publishes: publishes)
        let bytesBefore = self.tally.receivedBytes.load(ordering: .relaxed)
        let cpuBefore = try Self.cpuSeconds(serverPIDs)
        let payload = Self.payload(size: payloadSize, timestamped: false)
        let requests = names.map { self.target.publishRequest(channel: $0, message: payload) }
        let clock = ContinuousClock()
        let start = clock.now
        let loop = self.publisherLoop
        let finished = loop.makePromise(of: Void.self)
        _ = try await self.connect(on: loop) { _ in
            PublisherHandler(depth: depth, quota: publishes, tally: self.tally, finished: finished) {
                requests[$0 % requests.count]
            }
        }.get()
        var progress = (count: 0, at: start)
        let timeline = try await self.wait(
            "multi-fanout",
            timeout: .seconds(600),
            since: start,
            until: {
                let count = self.tally.received.load(ordering: .relaxed)
                if count != progress.count { progress = (count, clock.now) }
                return count >= expected || clock.now - progress.at > stall
            },
            counting: Meter("deliveries", of: expected, from: 0) { self.tally.received.load(ordering: .relaxed) }
        )
        let received = self.tally.received.load(ordering: .relaxed)
        let elapsed = (received >= expected ? clock.now : progress.at) - start
        let cpu = try Self.cpuSeconds(serverPIDs) - cpuBefore
        let bytes = self.tally.receivedBytes.load(ordering: .relaxed) - bytesBefore
        self.tally.stop.store(true, ordering: .relaxed)
        try await finished.futureResult.get()
        try await Self.close(connections)

        var report = Report(scenario: "multi-fanout")
        report.add("transport", transport.rawValue)
        report.add("connections", plan.connections)
        report.add("channels_per_connection", plan.perConnection)
        report.add("channels", plan.pool)
        report.add("subscribers_per_channel", Double(plan.subscriptions) / Double(plan.pool))
        report.add("publishes", publishes)
        report.add("published", self.tally.published.load(ordering: .relaxed))
        report.add("depth", depth)
        report.add("expected", expected)
        report.add("deliveries", received)
        report.add("lost", max(0, expected - received))
        report.add("surplus", self.tally.surplus.load(ordering: .relaxed))
        report.add("connections_complete", self.tally.completed.load(ordering: .relaxed))
        report.add("seconds", elapsed.seconds)
        report.add("deliveries_per_second", Double(received) / elapsed.seconds)
        report.add("bytes_per_delivery", Double(bytes) / Double(max(received, 1)))
        if !serverPIDs.isEmpty {
            report.add("server_cpu_seconds", cpu)
            report.add("server_cpu_us_per_delivery", cpu * 1_000_000 / Double(max(received, 1)))
        }
        report.add("failed", self.tally.failed.load(ordering: .relaxed))
        report.timeline = timeline
        return report
    }

    /// `idle --per-connection K`: the server's resident memory per connection
    /// when each of `plan.connections` idle connections carries
    /// `plan.perConnection` channels of a pool of `plan.pool` (one
    /// multi-channel subscription each, or `river.v2` commands). Run it with
    /// K = 1 and K = 20 on the same pool to see what a channel costs.
    func multiIdle(
        plan: ChannelPlan,
        transport: Transport,
        serverPIDs: [Int32],
        settle: Duration
    ) async throws -> Report {
        _ = try Self.residentBytes(serverPIDs)
        // Warm the server's code paths and allocator first, then measure from there.
        let warmPlan = try ChannelPlan(
            connections: min(100, plan.connections),
            perConnection: plan.perConnection,
            pool: plan.pool
        )
        let warmNames = (0..<plan.pool).map { "warm-\(self.runID)-\($0)" }
        let warm = try await self.subscribe(plan: warmPlan, transport: transport, names: warmNames)
        try await Self.close(warm)
        try await Task.sleep(for: settle)  // pacing: let the server finish closing before the first reading
        self.tally.subscribed.store(0, ordering: .relaxed)
        let before = try Self.residentBytes(serverPIDs)

        let names = (0..<plan.pool).map { self.channelName($0) }
        let connections = try await self.subscribe(plan: plan, transport: transport, names: names)
        try await Task.sleep(for: settle)  // pacing: the server settles before the second reading
        let after = try Self.residentBytes(serverPIDs)
        try await Self.close(connections)

        var report = Report(scenario: "idle")
        report.add("transport", transport.rawValue)
        report.add("subscribers", plan.connections)
        report.add("channels", plan.pool)
        report.add("channels_per_connection", plan.perConnection)
        report.add("server_rss_before_bytes", before)
        report.add("server_rss_after_bytes", after)
        report.add("bytes_per_connection", Double(after - before) / Double(plan.connections))
        report.add("bytes_per_subscription", Double(after - before) / Double(plan.subscriptions))
        return report
    }
}
