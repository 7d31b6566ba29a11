import Crypto
import Foundation
import NIOCore
import RiverTesting
import Testing

@testable import RiverServer

/// `/dashboard` and `/stats/stream` in-process, the clock moved by hand:
/// who may open them, the headers that keep other sites out, what a sample
/// says, and that a watcher that never reads costs nothing and is cut.
@Suite struct DashboardTests {
    static let adminSecret = "admin-secret-0123456789"

    /// A stats stream's events, one at a time (one read may bring several).
    final class SampleReader {
        let connection: TestConnection
        private var text = ""

        init(_ connection: TestConnection) { self.connection = connection }

        /// The next `event: sample`, as JSON.
        func next() async throws -> [String: Any] {
            while !self.text.contains("\n\n") {
                self.text += String(decoding: try await self.connection.readSome(), as: UTF8.self)
            }
            let end = self.text.range(of: "\n\n")!
            let lines = self.text[..<end.lowerBound].split(separator: "\n")
            self.text = String(self.text[end.upperBound...])
            #expect(lines.first == "event: sample")
            let data = lines.dropFirst().map { $0.dropFirst("data: ".count) }.joined()
            return try JSONSerialization.jsonObject(with: Data(data.utf8)) as! [String: Any]
        }
    }

    static func number(_ sample: [String: Any], _ path: String...) -> Double? {
        var value: Any? = sample
        for key in path { value = (value as? [String: Any])?[key] }
        return (value as? NSNumber)?.doubleValue
    }

    @Test func openToLocalClientsOnlyWithoutAccessControl() async throws {
        try await withRiver { river in
            #expect(try await river.request("GET", "/dashboard").status == 200)
            for path in ["/dashboard", "/stats/stream"] {
                let remote = try await river.request("GET", path, from: "203.0.113.7")
                #expect(remote.status == 403, "\(path)")
                #expect(remote.body.hasPrefix("the admin routes answer only local clients"))
                // A proxy in front makes no client local.
                let proxied = try await river.request("GET", path, headers: ["X-Forwarded-For: 203.0.113.7"])
                #expect(proxied.status == 403, "\(path)")
            }
        }
    }

    @Test func theAdminSecretOpensThem() async throws {
        let secured = configured { $0.adminSecret = Secret(Self.adminSecret) }
        try await withRiver(secured) { river in
            for path in ["/dashboard", "/stats/stream"] {
                #expect(try await river.request("GET", path).status == 401, "\(path)")
                #expect(try await river.request("GET", path + "?secret=wrong-secret-0123456789").status == 403)
                // Publishing credentials are not admin ones; POST is not a way in either.
                #expect(try await river.request("POST", path + "?secret=\(Self.adminSecret)").status == 405)
            }
            let page = try await river.request("GET", "/dashboard?secret=\(Self.adminSecret)")
            #expect(page.status == 200)
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/stats/stream", headers: ["X-River-Secret: \(Self.adminSecret)"])
            let head = try await stream.readHead()
            #expect(head.status == 200)
            #expect(head.header("Content-Type") == "text/event-stream; charset=utf-8")
        }
    }

    @Test func otherSitesCanNeitherFrameNorReadNorSpendIt() async throws {
        try await withRiver { river in  // allowed_origins is * by default: CORS is on for the public routes
            for path in ["/dashboard", "/stats/stream"] {
                let crossSite = try await river.request("GET", path, headers: ["Origin: https://evil.example"])
                #expect(crossSite.status == 403, "\(path)")
                #expect(crossSite.header("Access-Control-Allow-Origin") == nil)
            }
            let page = try await river.request("GET", "/dashboard")
            #expect(page.header("Access-Control-Allow-Origin") == nil)
            #expect(page.header("X-Frame-Options") == "DENY")
            #expect(page.header("X-Content-Type-Options") == "nosniff")
            #expect(page.header("Referrer-Policy") == "no-referrer")
            #expect(page.header("Cache-Control") == "no-store")
            let policy = try #require(page.header("Content-Security-Policy"))
            #expect(policy.hasPrefix("default-src 'none'; "))
            #expect(policy.contains("frame-ancestors 'none'"))
            #expect(policy.contains("connect-src 'self'"))
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            // The inline script and style are exactly what the policy's hashes allow.
            for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
                let body = page.body
                let start = try #require(body.range(of: "<\(tag)>")).upperBound
                let end = try #require(body.range(of: "</\(tag)>", range: start..<body.endIndex)).lowerBound
                let digest = Data(SHA256.hash(data: Data(body[start..<end].utf8))).base64EncodedString()
                #expect(policy.contains("\(directive) 'sha256-\(digest)'"), "\(tag)")
            }
            // Nothing is loaded from anywhere: no src or href, no URL but the SVG namespace.
            #expect(!page.body.contains("src=") && !page.body.contains("href="))
            let urls = page.body.components(separatedBy: "://").count - 1
            #expect(urls == page.body.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
        }
    }

    @Test func offMeansGone() async throws {
        try await withRiver(configured { $0.dashboard = false }) { river in
            for path in ["/dashboard", "/stats/stream"] {
                let response = try await river.request("GET", path)
                #expect(response.status == 404)
                #expect(response.body == "no such resource: \(path) (dashboard is off)\n")
            }
            let metrics = try await river.request("GET", "/metrics")
            #expect(!metrics.body.contains("river_event_loop_lag_seconds"))
        }
    }

    @Test func aSampleAddsUpTheSecondThatPassed() async throws {
        try await withRiver(configured { $0.presenceSelfNames = true }) { river in
            let stream = try await river.connect()
            try await stream.sendRequest("GET", "/stats/stream")
            #expect(try await stream.readHead().status == 200)
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/sse?name=hot&hello=1")
            #expect(try await subscriber.readHead().status == 200)
            _ = try await subscriber.readSome()  // the `live` notice: subscribed
            let second = try await river.connect()
            try await second.sendRequest("GET", "/subscribe?name=hot&hello=1&user=ann")
            #expect(try await second.readHead().status == 200)
            _ = try await second.readChunk()
            // The first reading: rates start from it, nothing is sent yet.
            await river.advance(by: .seconds(1))
            #expect(try await stream.unreadBytesNow() == [])
            for index in 1...6 { try await river.publish("hot", "m\(index)") }
            try await river.publish("cold", "once")
            await river.advance(by: .seconds(1))
            let samples = SampleReader(stream)
            let sample = try await samples.next()
            #expect(Self.number(sample, "interval") == 1)
            #expect(Self.number(sample, "rates", "published") == 7)
            #expect(Self.number(sample, "rates", "delivered") == 12)  // six messages, two subscribers
            #expect(Self.number(sample, "connections", "sse") == 1)
            #expect(Self.number(sample, "connections", "stream") == 1)
            #expect(Self.number(sample, "connections", "stats_stream") == 1)
            #expect(Self.number(sample, "delivery_latency_us", "rounds")! >= 1)
            #expect(Self.number(sample, "memory", "channels") == 2)
            // Presence: ann, on the page and in this node's line of the Nodes table.
            #expect(Self.number(sample, "presence_members") == 1)
            #expect(((sample["nodes"] as? [[String: Any]])?.first?["presence_members"] as? NSNumber)?.intValue == 1)
            let published = sample["top_published"] as? [[String: Any]]
            #expect(published?.map { $0["channel"] as? String } == ["hot", "cold"])
            #expect(published?.map { ($0["rate"] as? NSNumber)?.intValue } == [6, 1])
            let subscribed = sample["top_subscribed"] as? [[String: Any]]
            #expect(subscribed?.first?["channel"] as? String == "hot")
            #expect((subscribed?.first?["subscribers"] as? NSNumber)?.intValue == 2)
            #expect((sample["loop_lag_us"] as? [Any])?.count == 1)

            // A quiet second: rates fall to zero, the window's publishers are gone.
            await river.advance(by: .seconds(1))
            let quiet = try await samples.next()
            #expect(Self.number(quiet, "rates", "published") == 0)
            #expect((quiet["top_published"] as? [Any])?.isEmpty == true)

            // A page opening now gets the kept samples first.
            let late = try await river.connect()
            try await late.sendRequest("GET", "/stats/stream")
            #expect(try await late.readHead().status == 200)
            let kept = SampleReader(late)
            #expect(Self.number(try await kept.next(), "rates", "published") == 7)
            #expect(Self.number(try await kept.next(), "rates", "published") == 0)
        }
    }

    @Test func aWatcherThatNeverReadsIsSkippedThenCutAndItsPlaceFreed() async throws {
        try await withRiver(configured { $0.maxStatsStreams = 1 }) { river in
            let stalled = try await river.connect()
            try await stalled.sendRequest("GET", "/stats/stream")
            #expect(try await stalled.readHead().status == 200)
            let refused = try await river.request("GET", "/stats/stream")
            #expect(refused.status == 503)
            #expect(refused.body == "1 stats streams are open (max_stats_streams)\n")

            await stalled.stopReading()  // over its high-water mark from now on
            for _ in 0..<Int(StatsStream.stallTicks) - 1 {
                try await river.publish("busy", "x")
                await river.advance(by: .seconds(1))
            }
            // Nothing was queued for it: every sample was skipped.
            #expect(try await stalled.unreadBytesNow() == [])
            #expect(await !stalled.isClosedByServer())
            await river.advance(by: .seconds(2))
            #expect(await stalled.isClosedByServer())

            let next = try await river.connect()
            try await next.sendRequest("GET", "/stats/stream")
            #expect(try await next.readHead().status == 200)
        }
    }

    @Test func metricsCarryTheHistograms() async throws {
        try await withRiver { river in
            let subscriber = try await river.connect()
            try await subscriber.sendRequest("GET", "/sse?name=room&hello=1")
            _ = try await subscriber.readHead()
            _ = try await subscriber.readSome()
            try await river.publish("room", "x")
            await river.advance(by: .seconds(1))
            let metrics = try await river.request("GET", "/metrics").body
            #expect(metrics.contains("# TYPE river_delivery_latency_seconds histogram\n"))
            #expect(metrics.contains("river_delivery_latency_seconds_bucket{le=\"0.000025\"} 1\n"))
            #expect(metrics.contains("river_delivery_latency_seconds_bucket{le=\"+Inf\"} 1\n"))
            #expect(metrics.contains("river_delivery_latency_seconds_count 1\n"))
            #expect(metrics.contains("# TYPE river_event_loop_lag_seconds histogram\n"))
            // The probe ran at 250, 500, 750 and 1000 ms; its first run only sets the next due time.
            #expect(metrics.contains("river_event_loop_lag_seconds_bucket{loop=\"0\",le=\"10\"} 3\n"))
            #expect(metrics.contains("river_event_loop_lag_seconds_count{loop=\"0\"} 3\n"))
            #expect(metrics.contains("river_stats_streams 0"))
        }
    }
}
