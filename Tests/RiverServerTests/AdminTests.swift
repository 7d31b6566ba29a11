import Foundation
import RiverTesting
import Testing

/// Channel admin, statistics, metrics and health. In-process; the statistics
/// also run live (two event loops).
@Suite struct AdminTests {
    func json(_ response: TestConnection.Response) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(response.bodyBytes)) as? [String: Any] ?? [:]
    }

    /// Publishes `m1`…`mN` to `channel`.
    func publish(_ river: TestRiver, _ channel: String, count: Int) async throws {
        for seq in 1...count { try await river.publish(channel, "m\(seq)") }
    }

    /// A stream subscription to `channel`, in place once its `live` notice is read.
    func subscribe(_ river: TestRiver, _ path: String) async throws -> TestConnection {
        let subscriber = try await river.connect()
        try await subscriber.sendRequest("GET", path + "&hello=1")
        #expect(try await subscriber.readHead().status == 200)
        #expect(try await subscriber.readChunk()?.hasPrefix("[\"live\"") == true)
        return subscriber
    }

    @Test func channelInfoReportsSeqSubscribersAndHistory() async throws {
        try await withRiver(.inProcess, configured { $0.history.size = 3 }) { river in
            try await self.publish(river, "info me", count: 5)
            _ = try await self.subscribe(river, "/subscribe?name=info+me")
            let info = try self.json(try await river.request("GET", "/channels/info%20me"))
            #expect(info["channel"] as? String == "info me")
            #expect(info["seq"] as? Int == 5)
            #expect(info["subscribers"] as? Int == 1)
            #expect(info["history"] as? Int == 3)
            #expect(info["first_seq"] as? Int == 3)
            let lastPublish = info["last_publish"] as? String ?? ""
            #expect(lastPublish.hasPrefix("20") && lastPublish.hasSuffix("Z"))

            let missing = try await river.request("GET", "/channels/nobody")
            #expect(missing.status == 404)
            #expect(missing.body == "no such resource: no such channel: nobody\n")
        }
    }

    @Test func deleteEndsStreamsCleanlyAndDropsHistory() async throws {
        try await withRiver { river in
            try await self.publish(river, "doomed", count: 2)
            let stream = try await self.subscribe(river, "/subscribe?name=doomed")
            let socket = try await river.webSocket("/websocket?name=doomed&hello=1")
            #expect(try await socket.readText().hasPrefix("[\"live\""))

            let deleted = try await river.request("DELETE", "/channels/doomed")
            #expect(deleted.status == 200)
            #expect(deleted.body == "{\"channel\": \"doomed\", \"deleted\": true}")
            #expect(try await stream.readChunk() == nil)  // the last chunk: a clean end
            #expect(try await socket.read().closeCode == 1000)
            #expect(try await river.request("GET", "/channels/doomed").status == 404)
            #expect(try await river.request("DELETE", "/channels/doomed").status == 404)
            // A new channel of that name starts over, and an old seq is told so.
            let replay = try await river.request("GET", "/subscribe?name=doomed&seq=2&keep=0")
            #expect(maskingEpochs(replay.body) == "[\"reset\", {\"channel\": \"doomed\", \"seq\": 0, \"epoch\": E}]")
        }
    }

    @Test func listingIsFilteredSortedAndPaginated() async throws {
        try await withRiver { river in
            for name in ["b-2", "a-1", "b-1", "b-3", "c-1"] {
                _ = try await river.request("GET", "/publish?name=\(name)&data=x")
            }
            let first = try self.json(try await river.request("GET", "/channels?prefix=b-&limit=2"))
            #expect(first["channels"] as? [String] == ["b-1", "b-2"])
            #expect(first["next"] as? String == "b-2")
            let second = try self.json(try await river.request("GET", "/channels?prefix=b-&limit=2&after=b-2"))
            #expect(second["channels"] as? [String] == ["b-3"])
            #expect(second["next"] is NSNull)
            let all = try self.json(try await river.request("GET", "/channels"))
            #expect(all["channels"] as? [String] == ["a-1", "b-1", "b-2", "b-3", "c-1"])
            #expect(try await river.request("GET", "/channels?limit=5000").status == 400)
        }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func statsCountConnectionsByTransportAndTraffic(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode, threads: 2) { river in
            let stream = try await self.subscribe(river, "/subscribe?name=s")
            let sse = try await river.connect()
            try await sse.sendRequest("GET", "/sse?name=s&hello=1")
            _ = try await sse.readHead()
            _ = try await sse.readSome()  // the `live` event: subscribed
            let socket = try await river.webSocket("/websocket?name=s&hello=1")
            _ = try await socket.readText()
            let poll = try await river.connect()
            try await poll.sendRequest("GET", "/subscribe?name=s&keep=0")
            _ = try await poll.readHead()
            try await socket.send(text: "counted")
            _ = try await socket.readText()
            _ = try await stream.readChunk()

            let stats = try self.json(try await river.request("GET", "/stats"))
            #expect(stats["engine"] as? String == "memory")
            let connections = stats["connections"] as? [String: Int] ?? [:]
            #expect(connections["stream"] == 1)
            #expect(connections["sse"] == 1)
            #expect(connections["websocket"] == 1)
            #expect((connections["open"] ?? 0) >= 3)
            #expect(stats["messages_published"] as? Int == 1)
            #expect((stats["messages_delivered"] as? Int ?? 0) >= 3)
            #expect((stats["bytes_delivered"] as? Int ?? 0) > 0)
            #expect(stats["channels"] as? Int == 1)
            #expect((stats["history_bytes"] as? Int ?? 0) > 0)
        }
    }

    @Test func metricsAreInPrometheusTextFormat() async throws {
        try await withRiver { river in
            _ = try await river.request("GET", "/publish?name=m&data=x")
            _ = try await river.request("GET", "/publish?name=m&data=y")
            let metrics = try await river.request("GET", "/metrics")
            #expect(metrics.head.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains("# TYPE river_messages_published_total counter"))
            #expect(metrics.body.contains("river_messages_published_total 2"))
            #expect(metrics.body.contains("river_channels 1"))
            _ = try await river.request("GET", "/publish?name=m&data=z")
            // Counters only move forward, by what happened since the last scrape.
            #expect(try await river.request("GET", "/metrics").body.contains("river_messages_published_total 3"))
        }
    }

    @Test func healthSaysOK() async throws {
        try await withRiver { river in
            let health = try await river.request("GET", "/health")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
        }
    }

    /// The HTTP version split and the resumes: HTTP/2 connections and their streams while
    /// open, catch-ups served, `lost` and `reset` notices sent, in `/stats` and `/metrics`.
    @Test(.disabled(if: TestRiver.bridgesHTTP2, "counts the HTTP/2 connections it opens beside HTTP/1.1 ones"))
    func http2ConnectionsCatchUpsAndNoticesAreCounted() async throws {
        let configuration = configured {
            $0.http2Cleartext = true
            $0.history.size = 3
        }
        try await withRiver(.inProcess, configuration) { river in
            try await self.publish(river, "c", count: 5)
            let h2 = try await river.connectHTTP2()
            try await h2.request(stream: 1, "GET", "/sse?name=c&seq=0")
            #expect(try await h2.head(stream: 1).status == 200)
            #expect(try await h2.data(stream: 1, containing: "data: m5").contains("event: lost"))
            try await h2.request(stream: 3, "GET", "/sse?name=c&hello=1")
            #expect(try await h2.head(stream: 3).status == 200)
            _ = try await h2.data(stream: 3, containing: "event: live")
            // A seq ahead of the channel: `reset`, then `lost` for what is gone and the history it retains.
            let ahead = try await river.connect()
            try await ahead.sendRequest("GET", "/subscribe?name=c&seq=9")
            #expect(try await ahead.readHead().status == 200)
            #expect(try await ahead.readChunk()?.hasPrefix("[\"reset\"") == true)

            let stats = try self.json(try await river.request("GET", "/stats"))
            let http2 = stats["http2"] as? [String: Int] ?? [:]
            #expect(http2 == ["connections": 1, "streams": 2])
            #expect(stats["catch_ups"] as? Int == 2, "seq=0 and the reset stream replay the history")
            #expect(stats["lost_notices"] as? Int == 2, "seq=0 and after the reset: 1...2 are gone")
            #expect(stats["reset_notices"] as? Int == 1)
            let metrics = try await river.request("GET", "/metrics").body
            for line in ["river_http2_connections 1", "river_http2_streams 2", "river_lost_notices_total 2"] {
                #expect(metrics.contains("\n" + line), "\(line)")
            }

            await h2.close()
            try await eventually("the closed HTTP/2 connection is no longer counted") {
                let after = try self.json(try await river.request("GET", "/stats"))
                return after["http2"] as? [String: Int] == ["connections": 0, "streams": 0]
            }
        }
    }
}
