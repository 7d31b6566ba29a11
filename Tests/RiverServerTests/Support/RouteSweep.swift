import RiverTesting

/// Every route River serves, called at once on a live River, each call with
/// the status and the words its answer must have: what `ShardOutageTests`
/// checks while a dependency of the Redis engine is down. `check` returns
/// what broke, one line per call that answered otherwise (empty: all as
/// documented).
struct RouteSweep {
    /// What a route answered: its status, and its body (for a stream, its
    /// first chunk; for a WebSocket, its first frame: `close CODE REASON` or
    /// the text).
    struct Answer: Sendable, CustomStringConvertible {
        let status: Int
        let body: String

        var description: String { "\(self.status) \(self.body.prefix(300))" }
    }

    /// One call, and what it must answer.
    struct Probe: Sendable {
        let label: String
        let status: Int
        let says: [String]
        let call: @Sendable (TestRiver, Duration) async throws -> Answer
    }

    private(set) var probes: [Probe] = []
    /// How long each call may wait for its answer.
    var readTimeout: Duration = .seconds(10)

    /// `METHOD TARGET` answered as a whole (`Content-Length`).
    mutating func request(_ method: String, _ target: String, body: String? = nil, _ status: Int, says: [String] = []) {
        self.probes.append(
            Probe(label: "\(method) \(target)", status: status, says: says) { river, timeout in
                try await Self.withConnection(to: river, timeout: timeout) { connection in
                    try await connection.sendRequest(method, target, body: body)
                    let response = try await connection.readResponse(forHEAD: method == "HEAD")
                    return Answer(status: response.status, body: response.body)
                }
            }
        )
    }

    /// `GET TARGET` for a stream (`/subscribe`, `/sse`): a refusal is read
    /// whole, a stream up to its first chunk, or its first bytes when not
    /// chunked (`hello=1`'s `live` notice).
    mutating func stream(_ target: String, _ status: Int, says: [String] = []) {
        self.probes.append(
            Probe(label: "GET \(target)", status: status, says: says) { river, timeout in
                try await Self.withConnection(to: river, timeout: timeout) { connection in
                    try await connection.sendRequest("GET", target)
                    let head = try await connection.readHead()
                    guard head.status == 200 else {
                        let length = head.header("Content-Length").flatMap { Int($0) } ?? 0
                        let body = try await connection.readBytes(length)
                        return Answer(status: head.status, body: String(decoding: body, as: UTF8.self))
                    }
                    guard head.header("Transfer-Encoding") == "chunked" else {  // (SSE: the stream is the body)
                        let first = try await connection.readSome()
                        return Answer(status: head.status, body: String(decoding: first, as: UTF8.self))
                    }
                    return Answer(status: head.status, body: try await connection.readChunk() ?? "(end of stream)")
                }
            }
        )
    }

    /// A WebSocket handshake on `path` and the first frame after it. A close
    /// frame's payload must fit a control frame (125 bytes, RFC 6455 section 5.5).
    mutating func webSocket(_ path: String, _ status: Int, says: [String] = []) {
        self.probes.append(
            Probe(label: "GET \(path) (WebSocket)", status: status, says: says) { river, timeout in
                try await Self.withConnection(to: river, timeout: timeout) { connection in
                    let socket: TestWebSocket
                    do {
                        socket = try await TestWebSocket(on: connection, path: path)
                    } catch let failure as TestFailure {
                        return Answer(status: 0, body: failure.description)  // (the handshake's status is in it)
                    }
                    let frame = try await socket.read()
                    guard let code = frame.closeCode else { return Answer(status: 101, body: frame.text) }
                    guard frame.payload.count <= 125 else {
                        return Answer(status: 101, body: "a close frame of \(frame.payload.count) bytes")
                    }
                    let reason = String(decoding: frame.payload.dropFirst(2), as: UTF8.self)
                    return Answer(status: 101, body: "close \(code) \(reason)")
                }
            }
        )
    }

    /// Runs `body` on a new connection whose reads wait `timeout`, and closes it.
    private static func withConnection(
        to river: TestRiver,
        timeout: Duration,
        _ body: (TestConnection) async throws -> Answer
    ) async throws -> Answer {
        let connection = try await river.connect()
        connection.readTimeout = timeout
        do {
            let answer = try await body(connection)
            await connection.close()
            return answer
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Makes every call at once; returns one line per call that answered
    /// other than its probe says, or failed.
    func check(_ river: TestRiver) async -> [String] {
        let timeout = self.readTimeout
        return await withTaskGroup(of: String?.self) { group in
            for probe in self.probes {
                group.addTask {
                    do {
                        let answer = try await probe.call(river, timeout)
                        let missing = probe.says.filter { !answer.body.contains($0) }
                        guard answer.status == probe.status, missing.isEmpty else {
                            return "\(probe.label): expected \(probe.status) saying \(probe.says), got \(answer)"
                        }
                        return nil
                    } catch {
                        return "\(probe.label): \(error)"
                    }
                }
            }
            var broken: [String] = []
            for await line in group {
                if let line { broken.append(line) }
            }
            return broken.sorted()
        }
    }
}
