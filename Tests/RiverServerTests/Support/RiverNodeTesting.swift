import Foundation
import RiverTesting

/// What the tests that run several `river` processes on Redis do to them.
/// Every wait is for an event (a `live` notice, an answer's status) through
/// `eventually`; no call holds a thread.
protocol RiverNodeTesting {}

extension RiverNodeTesting {
    /// Runs `body`, then stops `nodes` (SIGTERM; SIGKILL if one lingers), whether `body` threw or not.
    func stopping<T>(_ nodes: RiverProcess..., after body: () async throws -> T) async throws -> T {
        try await self.stopping(nodes, after: body)
    }

    func stopping<T>(_ nodes: [RiverProcess], after body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await self.stop(nodes)
            return result
        } catch {
            await self.stop(nodes)
            throw error
        }
    }

    func stop(_ nodes: [RiverProcess]) async {
        for node in nodes { try? await node.stop() }
    }

    /// Subscribes with a stream announced by `hello=1` and reads up to its
    /// `live` notice: the subscription is in place then (on Redis too).
    func stream(_ node: RiverProcess, _ query: String) async throws -> TestConnection {
        try await self.announcedStream(node, query).connection
    }

    /// `stream`, also returning the notices up to and including `live` (a `reset`, a `lost` come first).
    func announcedStream(
        _ node: RiverProcess,
        _ query: String
    ) async throws
        -> (connection: TestConnection, notices: [String])
    {
        let (connection, status) = try await self.subscribe(node, query)
        guard status == 200 else {
            await connection.close()
            throw TestFailure("subscribe answered \(status)")
        }
        return (connection, try await self.notices(on: connection))
    }

    /// `announcedStream` once the node serves it: after Redis comes back, each
    /// of a node's connections to it reconnects after its own backoff, and
    /// until then the subscription is answered 503.
    func announcedStreamOnceServed(
        _ node: RiverProcess,
        _ query: String
    ) async throws
        -> (connection: TestConnection, notices: [String])
    {
        let connection = try await eventually("node \(node.port) serves /subscribe?\(query)") {
            () async throws -> TestConnection? in
            let (connection, status) = try await self.subscribe(node, query)
            if status == 200 { return connection }
            await connection.close()
            guard status == 503 else { throw TestFailure("subscribe answered \(status)") }
            return nil
        }
        return (connection, try await self.notices(on: connection))
    }

    private func subscribe(_ node: RiverProcess, _ query: String) async throws -> (TestConnection, Int) {
        let connection = try await TestConnection.live(port: node.port)
        try await connection.sendRequest("GET", "/subscribe?\(query)&hello=1")
        return (connection, try await connection.readHead().status)
    }

    /// The chunks up to and including the `live` notice; anything else before it is a failure.
    private func notices(on connection: TestConnection) async throws -> [String] {
        var notices: [String] = []
        while true {
            guard let chunk = try await connection.readChunk() else {
                throw TestFailure("the stream ended before its live notice: \(notices)")
            }
            notices.append(chunk)
            if chunk.hasPrefix("[\"live\"") { return notices }
            guard chunk.hasPrefix("[\"reset\"") || chunk.hasPrefix("[\"lost\"") else {
                throw TestFailure("not a notice before the live notice: \(chunk)")
            }
        }
    }

    func publish(_ node: RiverProcess, _ channel: String, _ data: String) async throws -> TestConnection.Response {
        try await TestConnection.request(port: node.port, "GET", "/publish?name=\(channel)&data=\(data)")
    }

    /// Publishes until the answer has `status` (Redis going or coming back: the
    /// node sees it in its own time); throws with the last answer if it never does.
    func publish(
        _ node: RiverProcess,
        _ channel: String,
        _ data: String,
        until status: Int,
        timeout: Duration = .seconds(10)
    ) async throws -> TestConnection.Response {
        var last: TestConnection.Response?
        do {
            return try await eventually("a publish on node \(node.port) is answered \(status)", timeout: timeout) {
                let response = try await self.publish(node, channel, data)
                last = response
                return response.status == status ? response : nil
            }
        } catch let timedOut as TimedOut {
            throw TestFailure("\(timedOut); the last answer: \(last.map { "\($0.status) \($0.body)" } ?? "none")")
        }
    }

    /// The seq a publish answer names.
    func seq(of response: TestConnection.Response) -> Int? {
        response.body.split(separator: " ").last.flatMap { Int($0.prefix { $0.isNumber }) }
    }
}
