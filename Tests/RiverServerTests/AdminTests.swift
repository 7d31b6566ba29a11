import Foundation
import RiverTesting
import Testing

/// Channel admin, statistics, metrics and health, over real sockets.
@Suite struct AdminTests {
    func json(_ response: SocketConnection.Response) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any] ?? [:]
    }

    @Test func channelInfoReportsSeqSubscribersAndHistory() async throws {
        try await withServer(configured { $0.history.size = 3 }) { server in
            try publishPipelined(port: server.port, channel: "info+me", count: 5)
            let subscriber = try server.connect()
            try subscriber.sendRequest("GET", "/subscribe?name=info+me")
            _ = try subscriber.readHead()
            let info = try self.json(try httpRequest(port: server.port, "GET", "/channels/info%20me"))
            #expect(info["channel"] as? String == "info me")
            #expect(info["seq"] as? Int == 5)
            #expect(info["subscribers"] as? Int == 1)
            #expect(info["history"] as? Int == 3)
            #expect(info["first_seq"] as? Int == 3)
            let lastPublish = info["last_publish"] as? String ?? ""
            #expect(lastPublish.hasPrefix("20") && lastPublish.hasSuffix("Z"))

            let missing = try httpRequest(port: server.port, "GET", "/channels/nobody")
            #expect(missing.status == 404)
            #expect(missing.body == "no such resource: no such channel: nobody\n")
        }
    }

    @Test func deleteEndsStreamsCleanlyAndDropsHistory() async throws {
        try await withServer { server in
            try publishPipelined(port: server.port, channel: "doomed", count: 2)
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=doomed")
            _ = try stream.readHead()
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=doomed")

            let deleted = try httpRequest(port: server.port, "DELETE", "/channels/doomed")
            #expect(deleted.status == 200)
            #expect(deleted.body == "{\"channel\": \"doomed\", \"deleted\": true}")
            #expect(try stream.readChunk() == nil)  // the last chunk: a clean end
            #expect(try socket.read().closeCode == 1000)
            #expect(try httpRequest(port: server.port, "GET", "/channels/doomed").status == 404)
            #expect(try httpRequest(port: server.port, "DELETE", "/channels/doomed").status == 404)
            // A new channel of that name starts over, and an old seq is told so.
            let replay = try httpRequest(port: server.port, "GET", "/subscribe?name=doomed&seq=2&keep=0")
            #expect(maskingEpochs(replay.body) == "[\"reset\", {\"channel\": \"doomed\", \"seq\": 0, \"epoch\": E}]")
        }
    }

    @Test func listingIsFilteredSortedAndPaginated() async throws {
        try await withServer { server in
            for name in ["b-2", "a-1", "b-1", "b-3", "c-1"] {
                _ = try httpRequest(port: server.port, "GET", "/publish?name=\(name)&data=x")
            }
            let first = try self.json(try httpRequest(port: server.port, "GET", "/channels?prefix=b-&limit=2"))
            #expect(first["channels"] as? [String] == ["b-1", "b-2"])
            #expect(first["next"] as? String == "b-2")
            let second = try self.json(
                try httpRequest(port: server.port, "GET", "/channels?prefix=b-&limit=2&after=b-2")
            )
            #expect(second["channels"] as? [String] == ["b-3"])
            #expect(second["next"] is NSNull)
            let all = try self.json(try httpRequest(port: server.port, "GET", "/channels"))
            #expect(all["channels"] as? [String] == ["a-1", "b-1", "b-2", "b-3", "c-1"])
            #expect(try httpRequest(port: server.port, "GET", "/channels?limit=5000").status == 400)
        }
    }

    @Test func statsCountConnectionsByTransportAndTraffic() async throws {
        try await withServer { server in
            let stream = try server.connect()
            try stream.sendRequest("GET", "/subscribe?name=s")
            _ = try stream.readHead()
            let sse = try server.connect()
            try sse.sendRequest("GET", "/sse?name=s")
            _ = try sse.readHead()
            let socket = try SocketWebSocket(port: server.port, path: "/websocket?name=s")
            let poll = try server.connect()
            try poll.sendRequest("GET", "/subscribe?name=s&keep=0")
            _ = try poll.readHead()
            try socket.send(text: "counted")
            _ = try socket.readText()
            _ = try stream.readChunk()

            let stats = try self.json(try httpRequest(port: server.port, "GET", "/stats"))
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
        try await withServer { server in
            _ = try httpRequest(port: server.port, "GET", "/publish?name=m&data=x")
            _ = try httpRequest(port: server.port, "GET", "/publish?name=m&data=y")
            let metrics = try httpRequest(port: server.port, "GET", "/metrics")
            #expect(metrics.head.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains("# TYPE river_messages_published_total counter"))
            #expect(metrics.body.contains("river_messages_published_total 2"))
            #expect(metrics.body.contains("river_channels 1"))
            _ = try httpRequest(port: server.port, "GET", "/publish?name=m&data=z")
            // Counters only move forward, by what happened since the last scrape.
            #expect(
                try httpRequest(port: server.port, "GET", "/metrics").body.contains("river_messages_published_total 3")
            )
        }
    }

    @Test func healthSaysOK() async throws {
        try await withServer { server in
            let health = try httpRequest(port: server.port, "GET", "/health")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
        }
    }
}
