import Atomics
import Foundation
import NIOCore

/// The kinds of connection a churn run cycles through: every transport, and
/// the ways a connection is used and ended.
enum ChurnKind: CaseIterable {
    /// `GET /health` with `Connection: close`.
    case request
    /// One request on a kept-alive connection, then the client closes.
    case keptAlive
    /// Three publishes in one write.
    case pipelined
    /// A publish with a 1 KB body.
    case publishBody
    /// Bytes that are not HTTP: a 400, and the server closes.
    case badRequest
    /// A long-poll answered by its catch-up.
    case longPoll
    case stream
    case jsonp
    case eventStream
    case webSocket

    func request(channel: String, host: String) -> ByteBuffer {
        let name = channel.formEncoded
        let head = " HTTP/1.1\r\nHost: \(host)\r\n"
        switch self {
        case .request: return ByteBuffer(string: "GET /health\(head)Connection: close\r\n\r\n")
        case .keptAlive: return ByteBuffer(string: "GET /publish?name=\(name)-k&data=kept\(head)\r\n")
        case .pipelined:
            return ByteBuffer(string: String(repeating: "GET /publish?name=\(name)-p&data=piped\(head)\r\n", count: 3))
        case .publishBody:
            let body = String(repeating: "b", count: 1024)
            return ByteBuffer(
                string:
                    "POST /publish?name=\(name)-b\(head)Content-Type: text/plain\r\nContent-Length: 1024\r\n\r\n\(body)"
            )
        case .badRequest: return ByteBuffer(string: "NOT HTTP\r\n\r\n")
        case .longPoll: return ByteBuffer(string: "GET /subscribe?name=\(name)&seq=0&keep=0\(head)\r\n")
        case .stream: return ByteBuffer(string: "GET /subscribe?name=\(name)&seq=0\(head)\r\n")
        case .jsonp: return ByteBuffer(string: "GET /subscribe?name=\(name)&seq=0&callback=cb\(head)\r\n")
        case .eventStream: return ByteBuffer(string: "GET /sse?name=\(name)\(head)Last-Event-ID: 0\r\n\r\n")
        case .webSocket:
            return ByteBuffer(
                string: "GET /websocket?name=\(name)&seq=0\(head)Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
        }
    }

    var expectation: ChurnConnectionHandler.Expectation {
        switch self {
        case .request, .keptAlive, .publishBody, .badRequest, .longPoll: return .responses(1)
        case .pipelined: return .responses(3)
        case .stream, .jsonp: return .message(.chunked)
        case .eventStream: return .message(.eventStream)
        case .webSocket: return .message(.webSocket)
        }
    }
}

extension LoadGenerator {
    /// `churn`: opens, uses and closes connections of every kind (half of them
    /// closed with a reset) at `rate` per second for `duration` (or until
    /// `connections` have been opened), at most `concurrency` at a time, while
    /// sampling the server's memory. The figure is the slope of its RSS
    /// against closed connections after the first `warmup` share of the run:
    /// what each closed connection leaves behind.
    func churn(
        rate: Int,
        duration: Duration,
        connections: Int?,
        concurrency: Int,
        warmup: Double,
        serverPIDs: [Int32]
    ) async throws -> Report {
        _ = try Self.residentBytes(serverPIDs)
        let channel = self.channelName(0)
        let host = self.target.host
        // One retained message, so every catch-up answers at once.
        let seed = ByteBuffer(
            string: "GET /publish?name=\(channel.formEncoded)&data=seed HTTP/1.1\r\nHost: \(host)\r\n\r\n"
        )
        guard try await self.churnOnce(seed, .responses(1)).get() else { throw BenchError("the first publish failed") }

        let kinds = ChurnKind.allCases
        let requests = kinds.map { $0.request(channel: channel, host: host) }
        let finished = ManagedAtomic(0)
        let failed = ManagedAtomic(0)
        let clock = ContinuousClock()
        let start = clock.now
        var launched = 0
        var samples: [(seconds: Double, closed: Int, rss: Int)] = []
        var peak = 0
        var peakDescriptors = 0
        var lastSample = start - .seconds(1)
        var timeline = Timeline([("connections", .counter), ("rss_bytes", .level)])
        var line = ProgressLine(enabled: self.showProgress)
        defer { line.clear() }
        let limit = connections ?? .max
        while clock.now - start < duration && launched < limit {
            let elapsed = (clock.now - start).seconds
            let due = min(Int(Double(rate) * elapsed), limit)
            while launched < due && launched - finished.load(ordering: .relaxed) < concurrency {
                let index = launched % kinds.count
                let outcome = self.churnOnce(requests[index], kinds[index].expectation, resets: launched % 2 == 1)
                outcome.whenComplete { result in
                    if case .success(true) = result {} else { failed.wrappingIncrement(ordering: .relaxed) }
                    finished.wrappingIncrement(ordering: .relaxed)
                }
                launched += 1
            }
            if clock.now - lastSample >= .milliseconds(250) {
                lastSample = clock.now
                let rss = try Self.residentBytes(serverPIDs)
                peak = max(peak, rss)
                peakDescriptors = max(peakDescriptors, Self.openDescriptors(serverPIDs))
                let closed = finished.load(ordering: .relaxed) - failed.load(ordering: .relaxed)
                samples.append((elapsed, closed, rss))
                timeline.append(at: elapsed, [Double(closed), Double(rss)])
                if samples.count % 4 == 0 {  // about once a second: the rate over the last four samples
                    let previous = samples.count > 4 ? samples[samples.count - 5] : (seconds: 0, closed: 0, rss: 0)
                    line.show(
                        ProgressLine.text(
                            "churn",
                            seconds: elapsed,
                            rate: Double(closed - previous.closed) / max(elapsed - previous.seconds, 0.001),
                            unit: "connections",
                            done: closed,
                            total: connections,
                            extra: "RSS \((rss / 1024).formatted()) KiB"
                        )
                    )
                }
            }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await self.wait(
            "finishing",
            timeout: .seconds(30),
            until: { finished.load(ordering: .relaxed) >= launched },
            counting: Meter("connections", of: launched) { finished.load(ordering: .relaxed) }
        )
        let seconds = (clock.now - start).seconds
        try await Task.sleep(for: .seconds(1))
        let end = try Self.residentBytes(serverPIDs)
        let closed = finished.load(ordering: .relaxed) - failed.load(ordering: .relaxed)
        let measured = samples.filter { $0.seconds >= warmup * seconds }
        let afterWarmup = measured.first ?? (0, 0, end)

        var report = Report(scenario: "churn")
        report.add("connections", closed)
        report.add("failed", failed.load(ordering: .relaxed))
        report.add("seconds", seconds)
        report.add("connections_per_second", Double(closed) / seconds)
        report.add("rss_after_warmup_bytes", afterWarmup.rss)
        report.add("rss_peak_bytes", peak)
        report.add("rss_end_bytes", end)
        report.add("rss_growth_after_warmup_bytes", end - afterWarmup.rss)
        report.add("slope_bytes_per_connection", Self.slope(measured.map { (Double($0.closed), Double($0.rss)) }))
        report.add("open_descriptors_peak", peakDescriptors)
        report.add("open_descriptors_end", Self.openDescriptors(serverPIDs))
        report.timeline = timeline
        return report
    }

    /// One connection of a churn run; succeeds with whether it got what it waited for.
    private func churnOnce(
        _ request: ByteBuffer,
        _ expectation: ChurnConnectionHandler.Expectation,
        resets: Bool = false
    ) -> EventLoopFuture<Bool> {
        let loop = self.group.next()
        let done = loop.makePromise(of: Bool.self)
        self.connect(on: loop) { _ in
            ChurnConnectionHandler(request: request, expectation: expectation, resets: resets, done: done)
        }.whenFailure { _ in done.succeed(false) }
        return done.futureResult
    }

    /// The least-squares slope of `y` against `x` (0 with fewer than two points).
    static func slope(_ points: [(x: Double, y: Double)]) -> Double {
        guard points.count >= 2 else { return 0 }
        let meanX = points.reduce(0) { $0 + $1.x } / Double(points.count)
        let meanY = points.reduce(0) { $0 + $1.y } / Double(points.count)
        let covariance = points.reduce(0) { $0 + ($1.x - meanX) * ($1.y - meanY) }
        let variance = points.reduce(0) { $0 + ($1.x - meanX) * ($1.x - meanX) }
        return variance > 0 ? covariance / variance : 0
    }

    /// Open file descriptors of the given processes, from /proc.
    static func openDescriptors(_ pids: [Int32]) -> Int {
        pids.reduce(0) { total, pid in
            total + ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0)
        }
    }
}
