import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix

/// How a question reaches the application: one POST of JSON, answered with a
/// status and a body of at most `maxBytes`. `Authorizer` bounds the time.
/// The server uses `HTTPAuthTransport`; tests may answer in-process.
protocol AuthTransport: Sendable {
    /// POSTs `body`; the answer's status and body. Throws when there is no
    /// readable answer (refused, reset, a body larger than `maxBytes`).
    func post(_ body: ByteBuffer, maxBytes: Int) async throws -> (status: Int, body: [UInt8])
    /// Closes the connections to the application.
    func shutdown() async
}

/// `auth_url` through AsyncHTTPClient: a pool of keep-alive connections of
/// its own (at most `auth_max_in_flight`, and at most 64, per host), on
/// NIO's shared event loops, so a slow application never holds River's
/// loops. Redirects are not followed (a 3xx is an unreadable answer, 503),
/// answers are not decompressed (no compression bomb), and the request
/// carries only River's JSON: forwarded header values travel inside it,
/// never as header fields (no header injection).
final class HTTPAuthTransport: AuthTransport {
    private let client: HTTPClient
    private let url: String
    private let timeout: TimeAmount

    init(url: String, timeout: TimeAmount, maxConnections: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // River's own deadline (`auth_timeout`) answers first: the client's read timeout and
        // deadline are twice as long, so a slow application is always "did not answer within".
        configuration.timeout = .init(connect: timeout, read: timeout * 2)
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: min(max(maxConnections, 1), 64)
        )
        self.client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        self.url = url
        self.timeout = timeout
    }

    func post(_ body: ByteBuffer, maxBytes: Int) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: self.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "River")
        request.body = .bytes(body)
        let response = try await self.client.execute(request, timeout: self.timeout * 2)
        let answer = try await response.body.collect(upTo: maxBytes)
        return (Int(response.status.code), Array(answer.readableBytesView))
    }

    func shutdown() async {
        try? await self.client.shutdown()
    }
}
