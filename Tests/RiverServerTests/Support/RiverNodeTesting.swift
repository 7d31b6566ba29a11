import Foundation

/// What the tests that run several `river` processes on Redis do to them.
protocol RiverNodeTesting {}

extension RiverNodeTesting {
    func stop(_ nodes: RiverProcess...) {
        for node in nodes {
            node.signal(SIGTERM)
            _ = node.waitForExit()
        }
    }

    /// Subscribes with a stream and waits for the head (the subscription is in place then).
    func stream(_ node: RiverProcess, _ query: String) throws -> SocketConnection {
        let (connection, status) = try self.subscribe(node, query)
        guard status == 200 else { throw SocketConnection.Failure(description: "subscribe answered \(status)") }
        return connection
    }

    /// Subscribes every 20 ms until the head is 200 (at most `attempts` times): after Redis
    /// comes back, each of a node's connections to it reconnects after its own backoff.
    func stream(_ node: RiverProcess, _ query: String, attempts: Int) async throws -> SocketConnection {
        for _ in 1..<attempts {
            let (connection, status) = try self.subscribe(node, query)
            if status == 200 { return connection }
            guard status == 503 else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try self.stream(node, query)
    }

    /// A stream subscription and the status of its answer's head.
    private func subscribe(_ node: RiverProcess, _ query: String) throws -> (SocketConnection, Int) {
        let connection = try SocketConnection(port: node.port)
        try connection.sendRequest("GET", "/subscribe?\(query)")
        return (connection, try connection.readHead().status)
    }

    func publish(_ node: RiverProcess, _ channel: String, _ data: String) throws -> SocketConnection.Response {
        try httpRequest(port: node.port, "GET", "/publish?name=\(channel)&data=\(data)")
    }

    /// Publishes every 20 ms until the answer has `status` (at most `attempts` times); the last answer.
    func publish(
        _ node: RiverProcess,
        _ channel: String,
        _ data: String,
        until status: Int,
        attempts: Int
    ) async throws -> SocketConnection.Response {
        var response = try self.publish(node, channel, data)
        for _ in 1..<attempts where response.status != status {
            try await Task.sleep(for: .milliseconds(20))
            response = try self.publish(node, channel, data)
        }
        return response
    }

    /// The seq a publish answer names.
    func seq(of response: SocketConnection.Response) -> Int? {
        response.body.split(separator: " ").last.flatMap { Int($0.prefix { $0.isNumber }) }
    }
}
