import Atomics
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The scenarios of the comparison table. Each one returns a `Report`; sizes
/// come from the command line.
extension LoadGenerator {
    /// `bench`: `readers` streaming subscribers on one channel, `writers`
    /// publishing concurrently over a fresh connection each, until `messages`
    /// deliveries in total. The figure is deliveries per second.
    func bench(readers: Int, writers: Int, messages: Int, transport: Transport, payloadSize: Int) async throws -> Report
    {
        let channel = self.channelName(0)
        let subscribers = try await self.subscribe(count: readers, transport: transport, channel: { _ in channel })
        let payload = Self.payload(size: payloadSize, timestamped: false)
        let request = self.target.publishRequest(channel: channel, message: payload, close: true)
        let clock = ContinuousClock()
        let start = clock.now
        let acknowledged = ManagedAtomic(0)
        let publishers = try FreshConnectionPublishers(
            address: self.address,
            request: request,
            writers: writers,
            tally: self.tally,
            acknowledged: acknowledged
        )
        publishers.start()
        let timeline = try await self.wait(
            "bench",
            since: start,
            until: { self.tally.received.load(ordering: .relaxed) >= messages },
            counting: Meter("messages", of: messages, from: 0) { self.tally.received.load(ordering: .relaxed) }
        )
        let elapsed = clock.now - start
        self.tally.stop.store(true, ordering: .relaxed)
        await publishers.waitUntilStopped()
        try await Self.close(subscribers)

        let received = self.tally.received.load(ordering: .relaxed)
        var report = Report(scenario: "bench")
        report.add("transport", transport.rawValue)
        report.add("readers", readers)
        report.add("writers", writers)
        report.add("received", received)
        report.add("publishes", acknowledged.load(ordering: .relaxed))
        report.add("seconds", elapsed.seconds)
        report.add("messages_per_second", Double(received) / elapsed.seconds)
        report.add("failed", self.tally.failed.load(ordering: .relaxed))
        report.timeline = timeline
        return report
    }

    /// Closes connections and waits until they are closed.
    static func close(_ channels: [Channel]) async throws {
        for channel in channels { channel.close(promise: nil) }
        for channel in channels { try? await channel.closeFuture.get() }
    }

    /// `fanout`: `subscribers` on one channel, `publishes` sent back to back on
    /// one keep-alive connection (`depth` in flight: 1 sends each when the
    /// previous is answered); the time until every delivery arrived.
    func fanout(
        subscribers: Int,
        publishes: Int,
        depth: Int,
        transport: Transport,
        payloadSize: Int,
        payloadText: String? = nil,
        serverPIDs: [Int32] = []
    ) async throws
        -> Report
    {
        let channel = self.channelName(0)
        let connections = try await self.subscribe(count: subscribers, transport: transport, channel: { _ in channel })
        let expected = subscribers * publishes
        let bytesBefore = self.tally.receivedBytes.load(ordering: .relaxed)
        let cpuBefore = try Self.cpuSeconds(serverPIDs)
        let target = self.target
        let payload = payloadText ?? Self.payload(size: payloadSize, timestamped: false)
        let clock = ContinuousClock()
        let start = clock.now
        let loop = self.publisherLoop
        let finished = loop.makePromise(of: Void.self)
        _ = try await self.connect(on: loop) { _ in
            PublisherHandler(depth: depth, quota: publishes, tally: self.tally, finished: finished) { _ in
                target.publishRequest(channel: channel, message: payload)
            }
        }.get()
        let timeline = try await self.wait(
            "fanout",
            since: start,
            until: { self.tally.received.load(ordering: .relaxed) >= expected },
            counting: Meter("deliveries", of: expected, from: 0) { self.tally.received.load(ordering: .relaxed) }
        )
        let elapsed = clock.now - start
        let cpu = try Self.cpuSeconds(serverPIDs) - cpuBefore
        let bytes = self.tally.receivedBytes.load(ordering: .relaxed) - bytesBefore
        self.tally.stop.store(true, ordering: .relaxed)
        try await finished.futureResult.get()
        try await Self.close(connections)

        var report = Report(scenario: "fanout")
        report.add("transport", transport.rawValue)
        report.add("subscribers", subscribers)
        report.add("publishes", publishes)
        report.add("depth", depth)
        report.add("deliveries", self.tally.received.load(ordering: .relaxed))
        report.add("seconds", elapsed.seconds)
        report.add("deliveries_per_second", Double(expected) / elapsed.seconds)
        report.add("bytes_per_delivery", Double(bytes) / Double(expected))
        if !serverPIDs.isEmpty {
            report.add("server_cpu_seconds", cpu)
            report.add("server_cpu_us_per_delivery", cpu * 1_000_000 / Double(expected))
        }
        report.add("failed", self.tally.failed.load(ordering: .relaxed))
        report.timeline = timeline
        return report
    }

    /// User and system CPU time of the given processes, summed, from /proc (0 without any).
    static func cpuSeconds(_ pids: [Int32]) throws -> Double {
        var ticks = 0
        for pid in pids {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
            guard let end = stat.lastIndex(of: ")") else { throw BenchError("unreadable /proc/\(pid)/stat") }
            let fields = stat[stat.index(after: end)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
                throw BenchError("unreadable /proc/\(pid)/stat")
            }
            ticks += user + system
        }
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// `idle`: `subscribers` streaming connections over `channels` channels;
    /// the server's resident memory per connection (from /proc of `serverPIDs`).
    func idle(
        subscribers: Int,
        channels: Int,
        transport: Transport,
        serverPIDs: [Int32],
        settle: Duration
    ) async throws
        -> Report
    {
        // Warm the server's code paths and allocator first, then measure from there.
        let warm = try await self.subscribe(
            count: min(100, subscribers),
            transport: transport,
            channel: { "warm-\($0)" }
        )
        for connection in warm { try? await connection.close() }
        try await Task.sleep(for: settle)
        self.tally.subscribed.store(0, ordering: .relaxed)
        let before = try Self.residentBytes(serverPIDs)

        let connections = try await self.subscribe(
            count: subscribers,
            transport: transport,
            channel: { self.channelName($0 % channels) }
        )
        try await Task.sleep(for: settle)
        let after = try Self.residentBytes(serverPIDs)
        try await Self.close(connections)

        var report = Report(scenario: "idle")
        report.add("transport", transport.rawValue)
        report.add("subscribers", subscribers)
        report.add("channels", channels)
        report.add("server_rss_before_bytes", before)
        report.add("server_rss_after_bytes", after)
        report.add("bytes_per_connection", Double(after - before) / Double(subscribers))
        return report
    }

    /// Resident set size of the given processes, summed, from /proc.
    static func residentBytes(_ pids: [Int32]) throws -> Int {
        guard !pids.isEmpty else { throw BenchError("idle needs --server-pid (the server's process id)") }
        var total = 0
        for pid in pids {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
            else { throw BenchError("no VmRSS for pid \(pid)") }
            total += kib * 1024
        }
        return total
    }

    /// `ws-echo`: `clients` WebSocket connections, each publishing `messages`
    /// to its own channel by sending frames and receiving them back.
    func webSocketEcho(
        clients: Int,
        messages: Int,
        window: Int,
        payloadSize: Int,
        payloadText: String? = nil
    ) async throws -> Report {
        let payload = payloadText ?? Self.payload(size: payloadSize, timestamped: false)
        let target = self.target
        let finishedClients = ManagedAtomic(0)
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<clients {
            let loop = self.group.next()
            let promise = loop.makePromise(of: Void.self)
            let handshake = target.subscribeRequest(.webSocket, channel: self.channelName(index))
            _ = try await self.connect(on: loop) { _ in
                WebSocketEchoHandler(
                    handshake: handshake,
                    message: payload,
                    compressed: target.webSocketCompress,
                    count: messages,
                    window: window,
                    tally: self.tally,
                    done: promise
                )
            }.get()
            promise.futureResult.whenComplete { _ in finishedClients.wrappingIncrement(ordering: .relaxed) }
        }
        let expected = clients * messages
        let timeline = try await self.wait(
            "ws-echo",
            since: start,
            until: {
                self.tally.received.load(ordering: .relaxed) >= expected
                    || finishedClients.load(ordering: .relaxed) == clients
            },
            counting: Meter("messages", of: expected, from: 0) { self.tally.received.load(ordering: .relaxed) }
        )
        let elapsed = clock.now - start
        let received = self.tally.received.load(ordering: .relaxed)
        var report = Report(scenario: "ws-echo")
        report.add("clients", clients)
        report.add("messages_per_client", messages)
        report.add("received", received)
        report.add("seconds", elapsed.seconds)
        report.add("messages_per_second", Double(received) / elapsed.seconds)
        report.add(
            "failed",
            self.tally.failed.load(ordering: .relaxed) + self.tally.endedEarly.load(ordering: .relaxed)
        )
        report.timeline = timeline
        return report
    }

    /// `publish`: `publishers` keep-alive connections publishing (each with
    /// `depth` requests in flight) for `duration` to `channels` channels
    /// (connection i to channel i mod `channels`), with `subscribers`
    /// listening to each channel.
    func publish(
        publishers: Int,
        depth: Int,
        subscribers: Int,
        channels channelCount: Int = 1,
        duration: Duration,
        payloadSize: Int
    ) async throws
        -> Report
    {
        let channels = (0..<channelCount).map { self.channelName($0) }
        let listeners = try await self.subscribe(
            count: subscribers * channelCount,
            transport: .stream,
            channel: { channels[$0 % channelCount] }
        )
        let target = self.target
        let payload = Self.payload(size: payloadSize, timestamped: false)
        let requests = channels.map { target.publishRequest(channel: $0, message: payload) }
        let clock = ContinuousClock()
        var connections: [Channel] = []
        for index in 0..<publishers {
            let request = requests[index % channelCount]
            connections.append(
                try await self.connect(on: self.publisherLoop) { _ in
                    PublisherHandler(depth: depth, quota: nil, tally: self.tally, finished: nil) { _ in request }
                }.get()
            )
        }
        let start = clock.now
        let timeline = try await self.wait(
            "publish",
            since: start,
            until: { clock.now - start >= duration },
            counting: Meter("publishes") { self.tally.published.load(ordering: .relaxed) }
        )
        let published = self.tally.published.load(ordering: .relaxed)
        let elapsed = clock.now - start
        self.tally.stop.store(true, ordering: .relaxed)
        // Let the subscriber drain what was acknowledged.
        _ = try? await self.wait(
            "draining",
            timeout: .seconds(30),
            until: {
                self.tally.received.load(ordering: .relaxed) >= self.tally.published.load(ordering: .relaxed)
                    * subscribers
            },
            counting: Meter("messages", of: published * subscribers) { self.tally.received.load(ordering: .relaxed) }
        )
        try await Self.close(connections + listeners)

        var report = Report(scenario: "publish")
        report.add("publishers", publishers)
        report.add("depth", depth)
        report.add("subscribers", subscribers)
        report.add("channels", channelCount)
        report.add("published", published)
        report.add("received", self.tally.received.load(ordering: .relaxed))
        report.add("seconds", elapsed.seconds)
        report.add("publishes_per_second", Double(published) / elapsed.seconds)
        report.add("failed", self.tally.failed.load(ordering: .relaxed))
        report.timeline = timeline
        return report
    }

    /// `latency`: `subscribers` on one channel, one publisher at a fixed
    /// `rate` for `duration`; publish-to-delivery percentiles.
    func latency(
        subscribers: Int,
        rate: Int,
        duration: Duration,
        transport: Transport,
        payloadSize: Int
    ) async throws
        -> Report
    {
        let channel = self.channelName(0)
        let connections = try await self.subscribe(
            count: subscribers,
            transport: transport,
            channel: { _ in channel },
            measureLatency: true
        )
        let target = self.target
        let total = Int(Double(rate) * duration.seconds)
        let loop = self.publisherLoop
        let finished = loop.makePromise(of: Void.self)
        let start = ContinuousClock.now
        _ = try await self.connect(on: loop) { _ in
            PublisherHandler(depth: .max, quota: total, rate: rate, tally: self.tally, finished: finished) { _ in
                target.publishRequest(channel: channel, message: Self.payload(size: payloadSize, timestamped: true))
            }
        }.get()
        let timeline = try await self.wait(
            "latency",
            timeout: duration + .seconds(60),
            every: .milliseconds(100),  // (a timer every millisecond on the generator's core shows in the tail)
            since: start,
            until: { self.tally.received.load(ordering: .relaxed) >= total * subscribers },
            counting: Meter("deliveries", of: total * subscribers, from: 0) {
                self.tally.received.load(ordering: .relaxed)
            }
        )
        self.tally.stop.store(true, ordering: .relaxed)
        try await finished.futureResult.get()
        try await Self.close(connections)
        let histogram = try await self.mergedLatency().histogram

        var report = Report(scenario: "latency")
        report.add("transport", transport.rawValue)
        report.add("subscribers", subscribers)
        report.add("rate", rate)
        report.add("deliveries", Int(histogram.totalCount))
        report.add("p50_us", Int(histogram.valueAtPercentile(50)))
        report.add("p99_us", Int(histogram.valueAtPercentile(99)))
        report.add("p999_us", Int(histogram.valueAtPercentile(99.9)))
        report.add("max_us", Int(histogram.max))
        report.add("failed", self.tally.failed.load(ordering: .relaxed))
        report.timeline = timeline
        return report
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
