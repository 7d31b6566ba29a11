import Atomics
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// The client side of a run: event loops, connection helpers and the waits
/// with their live line and timeline. Scenarios are written against this.
final class LoadGenerator: Sendable {
    /// Subscribers' event loops.
    let group: MultiThreadedEventLoopGroup
    /// Publishers get a loop of their own, as separate processes would: a
    /// publish must not wait behind thousands of subscriber reads.
    let publisherGroup: MultiThreadedEventLoopGroup
    let target: Target
    /// Resolved once: resolving per connection would cost more than the publish.
    let address: SocketAddress
    /// Where subscribers connect: `address`, or the other nodes of a multi-node run.
    let subscriberAddresses: [SocketAddress]
    let tally = Tally()
    /// Whether waits show the live line (standard error is a terminal and `--quiet` was not given).
    let showProgress: Bool
    /// Unique per run, so channels never carry history from an earlier run.
    let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    private let recorders: [NIOLoopBoundBox<LatencyRecorder>]
    /// Every connection speaks TLS with this context (`--tls-ca`); nil: plain TCP.
    let tls: NIOSSLContext?

    init(threads: Int, target: Target, showProgress: Bool, tls: NIOSSLContext? = nil) throws {
        self.tls = tls
        self.address = try SocketAddress.makeAddressResolvingHost(target.host, port: target.port)
        self.subscriberAddresses =
            try target.subscriberPorts.isEmpty
            ? [self.address]
            : target.subscriberPorts.map { try SocketAddress.makeAddressResolvingHost(target.host, port: $0) }
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.publisherGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // On a shared core, a busy subscriber thread would delay the publisher's
        // next request by a scheduler slice; lowering the subscribers' priority
        // lets the publisher behave like the independent process it stands for.
        for loop in self.group.makeIterator() {
            // (who = 0 is the calling thread: on Linux the nice value is per thread.)
            loop.execute { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10) }
        }
        self.target = target
        self.showProgress = showProgress
        self.recorders = self.group.makeIterator().map {
            NIOLoopBoundBox.makeBoxSendingValue(LatencyRecorder(), eventLoop: $0)
        }
    }

    func shutdown() async {
        try? await self.publisherGroup.shutdownGracefully()
        try? await self.group.shutdownGracefully()
    }

    /// A loop for publishers.
    var publisherLoop: EventLoop { self.publisherGroup.next() }

    func channelName(_ index: Int) -> String { "bench-\(self.runID)-\(index)" }

    /// Opens a connection with `handler` (made on the connection's loop).
    func connect(
        on loop: EventLoop? = nil,
        to address: SocketAddress? = nil,
        _ makeHandler: @escaping @Sendable (EventLoop) -> ChannelHandler
    ) -> EventLoopFuture<Channel> {
        let tls = self.tls
        return ClientBootstrap(group: loop ?? self.group.next())
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.maxMessagesPerRead, value: 16)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // (Requests written before the handshake ends wait in the TLS handler.)
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: nil)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(makeHandler(channel.eventLoop))
                }
            }
            .connect(to: address ?? self.address)
    }

    /// The latency recorder of `loop` (to be called on it).
    func recorder(on loop: EventLoop) -> LatencyRecorder {
        self.recorders.first { $0.eventLoop === loop }!.value
    }

    /// Opens `count` subscriber connections, `wave` at a time, and waits until
    /// every one has its 200 (or 101).
    func subscribe(
        count: Int,
        transport: Transport,
        channel: @escaping @Sendable (Int) -> String,
        measureLatency: Bool = false,
        wave: Int = 256
    ) async throws -> [Channel] {
        var channels: [Channel] = []
        channels.reserveCapacity(count)
        let target = self.target
        let tally = self.tally
        var next = 0
        while next < count {
            let end = min(next + wave, count)
            var futures: [EventLoopFuture<Channel>] = []
            for index in next..<end {
                let name = channel(index)
                let address = self.subscriberAddresses[index % self.subscriberAddresses.count]
                futures.append(
                    self.connect(to: address) { loop in
                        let latency = measureLatency ? self.recorder(on: loop) : nil
                        if transport == .longPoll {
                            return LongPollSubscriberHandler(
                                target: target,
                                channel: name,
                                tally: tally,
                                latency: latency
                            )
                        }
                        return SubscriberHandler(
                            request: target.subscribeRequest(transport, channel: name),
                            framing: transport.framing,
                            tally: tally,
                            latency: latency
                        )
                    }
                )
            }
            for future in futures { channels.append(try await future.get()) }
            next = end
        }
        try await self.wait(
            "subscribing",
            until: {
                self.tally.subscribed.load(ordering: .relaxed) + self.tally.failed.load(ordering: .relaxed) >= count
            },
            counting: Meter("subscriptions", of: count) { self.tally.subscribed.load(ordering: .relaxed) }
        )
        let failed = self.tally.failed.load(ordering: .relaxed)
        guard failed == 0 else { throw BenchError("\(failed) of \(count) subscriptions were refused") }
        return channels
    }

    /// Polls `condition` every `interval` until it holds; samples `meter`
    /// into the returned timeline (every `Timeline.interval`, and at the end)
    /// and shows it on the live line once a second. `start` is when the
    /// timeline's clock starts (default: now).
    @discardableResult
    func wait(
        _ what: String,
        timeout: Duration = .seconds(300),
        every interval: Duration = .milliseconds(1),
        since start: ContinuousClock.Instant = .now,
        until condition: () -> Bool,
        counting meter: Meter
    ) async throws -> Timeline {
        let clock = ContinuousClock()
        let base = meter.origin ?? meter.count()
        var timeline = Timeline(counting: meter.unit)
        var line = ProgressLine(enabled: self.showProgress)
        defer { line.clear() }
        var lastSample = clock.now
        var lastShown = (at: start, count: base)
        while !condition() {
            let now = clock.now
            if now - start > timeout {
                throw BenchError("timed out \(what): \(meter.status)")
            }
            if now - lastSample >= Timeline.interval {
                lastSample = now
                let count = meter.count()
                timeline.append(at: (now - start).seconds, [Double(count - base)])
                if now - lastShown.at >= ProgressLine.interval {
                    let rate = Double(count - lastShown.count) / (now - lastShown.at).seconds
                    lastShown = (now, count)
                    line.show(
                        ProgressLine.text(
                            what,
                            seconds: (now - start).seconds,
                            rate: rate,
                            unit: meter.unit,
                            done: count,
                            total: meter.total
                        )
                    )
                }
            }
            try await Task.sleep(for: interval)
        }
        timeline.append(at: (clock.now - start).seconds, [Double(meter.count() - base)])
        return timeline
    }

    /// Every loop's latency histogram, merged.
    func mergedLatency() async throws -> LatencyRecorder {
        let merged = LatencyRecorder()
        for box in self.recorders {
            let histogram = try await box.eventLoop.submit { box.value.histogram }.get()
            merged.add(histogram)
        }
        return merged
    }

    /// A message body of `size` bytes, carrying the send time when `timestamped`.
    static func payload(size: Int, timestamped: Bool) -> String {
        let stamp = timestamped ? "t=\(LatencyRecorder.nowNanoseconds()) " : ""
        return stamp + String(repeating: "x", count: max(0, size - stamp.utf8.count))
    }
}

/// A run that could not complete, with the reason.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
