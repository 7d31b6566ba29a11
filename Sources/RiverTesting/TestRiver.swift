import Foundation
import Logging
import NIOCore
import RiverServer

/// The River a test talks to, in-process or live — the same calls either way.
///
/// - `.inProcess` (most tests): the real handlers, dispatcher, access control,
///   memory engine and subscribers on one `NIOAsyncTestingEventLoop`; no
///   socket, no thread, and the server's clock moves only with `advance(by:)`.
/// - `.live`: a real `RiverServer` on 127.0.0.1 and a free port, clients on
///   real sockets (through SwiftNIO, so no test blocks a thread): for what
///   needs the kernel — admission, real backpressure, other processes.
public final class TestRiver: Sendable {
    public enum Mode: String, Sendable, CaseIterable, CustomStringConvertible {
        case inProcess
        case live

        public var description: String { self.rawValue }
    }

    public let mode: Mode
    public let configuration: RiverConfiguration
    private let inProcess: InProcessRiver?
    private let live: RiverServer?

    private init(mode: Mode, configuration: RiverConfiguration, inProcess: InProcessRiver?, live: RiverServer?) {
        self.mode = mode
        self.configuration = configuration
        self.inProcess = inProcess
        self.live = live
    }

    /// Starts a River for one test; stop it with `stop()` (`withRiver` does).
    public static func start(
        _ mode: Mode = .inProcess,
        _ configuration: RiverConfiguration = .testing,
        threads: Int = 1,
        lifetimeObserver: LifetimeObserver? = nil
    ) async throws -> TestRiver {
        var configuration = configuration
        if Self.bridgesHTTP2 { configuration.http2Cleartext = true }
        switch mode {
        case .inProcess:
            precondition(configuration.tlsCertificate == nil, "TLS needs a live River (.live)")
            configuration.threads = 1
            let river = try await InProcessRiver.start(configuration, lifetimeObserver: lifetimeObserver)
            return TestRiver(mode: mode, configuration: configuration, inProcess: river, live: nil)
        case .live:
            configuration = try configuration.withTLSFromEnvironment()
            configuration.host = "127.0.0.1"
            configuration.threads = threads
            var logger = Logger(label: "river-test")
            // (RIVER_TEST_LOG_LEVEL=debug shows what a live server does, for a failing run.)
            logger.logLevel =
                ProcessInfo.processInfo.environment["RIVER_TEST_LOG_LEVEL"].flatMap {
                    Logger.Level(rawValue: $0)
                } ?? .warning
            let server = try await RiverServer.start(
                configuration: configuration,
                logger: logger,
                lifetimeObserver: lifetimeObserver
            )
            return TestRiver(mode: mode, configuration: configuration, inProcess: nil, live: server)
        }
    }

    public func stop() async {
        await self.inProcess?.shutdown()
        await self.live?.shutdown()
    }

    /// The live server's port.
    public var port: Int {
        guard let live = self.live else { preconditionFailure("an in-process River has no port") }
        return live.port
    }

    /// The live server (`.live` only).
    public var server: RiverServer {
        guard let live = self.live else { preconditionFailure("an in-process River has no RiverServer") }
        return live
    }

    /// How long reads wait by default: in-process, what is due has run by
    /// the time a read looks, so only work finished off the loop (a token
    /// check) is waited for — and, with `auth_url`, another process's answer,
    /// which on a loaded machine (a suite starting three browsers) took over 5 s
    /// to come: then as long as live.
    public var defaultReadTimeout: Duration {
        self.mode == .live || self.configuration.authURL != nil ? .seconds(10) : .seconds(5)
    }

    /// A new connection. In-process, `peer` is the client's address as the
    /// server sees it (`203.0.113.7` is not local); live, it is always 127.0.0.1,
    /// over TLS when the River has `tls_certificate` (trusting that file's certificates).
    /// `receiveBufferBytes` (live) shrinks the client's socket buffer. With
    /// `RIVER_TEST_HTTP2=1` the test's HTTP/1.1 goes over HTTP/2 (`bridgesHTTP2`).
    public func connect(
        from peer: String = "127.0.0.1",
        receiveBufferBytes: Int? = nil
    ) async throws
        -> TestConnection
    {
        let connection = try await self.connectHTTP1(from: peer, receiveBufferBytes: receiveBufferBytes)
        guard Self.bridgesHTTP2 else { return connection }
        let bridged = try await HTTP2BridgedTransport.open(over: connection.transport)
        return TestConnection(bridged, readTimeout: connection.readTimeout)
    }

    /// With `RIVER_TEST_HTTP2=1`, every River takes h2c (`http2_cleartext on`) and every
    /// connection `connect()` makes carries the test's HTTP/1.1 requests over HTTP/2, a
    /// stream each (ALPN `h2` over TLS): the transports' suites run over HTTP/2 unchanged.
    public static let bridgesHTTP2 = ProcessInfo.processInfo.environment["RIVER_TEST_HTTP2"] == "1"

    /// A connection that speaks what the test writes (HTTP/1.1, or an HTTP/2 preface).
    func connectHTTP1(
        from peer: String = "127.0.0.1",
        receiveBufferBytes: Int? = nil
    ) async throws
        -> TestConnection
    {
        switch self.mode {
        case .inProcess:
            let river = self.inProcess!
            let channel = try await river.connect(from: try SocketAddress(ipAddress: peer, port: 50_000))
            return TestConnection(
                InProcessTransport(channel: channel, river: river),
                readTimeout: self.defaultReadTimeout
            )
        case .live:
            precondition(peer == "127.0.0.1", "a live client is always 127.0.0.1")
            if self.configuration.tlsCertificate != nil {
                // A River with TLS gets TLS clients: every kit call runs over it unchanged.
                var client = self.tlsClient
                if Self.bridgesHTTP2 { client.applicationProtocols = ["h2"] }
                return try await self.connectTLS(client, receiveBufferBytes: receiveBufferBytes).0
            }
            let transport = try await LiveTransport.connect(port: self.port, receiveBufferBytes: receiveBufferBytes)
            return TestConnection(transport, readTimeout: self.defaultReadTimeout)
        }
    }

    /// One request on a fresh connection, and its response.
    public func request(
        _ method: String,
        _ target: String,
        headers: [String] = [],
        body: String? = nil,
        from peer: String = "127.0.0.1"
    ) async throws -> TestConnection.Response {
        try await self.request(method, target, headers: headers, bodyBytes: body.map { Array($0.utf8) }, from: peer)
    }

    /// One request whose body is any bytes, on a fresh connection.
    public func request(
        _ method: String,
        _ target: String,
        headers: [String] = [],
        bodyBytes: [UInt8]?,
        from peer: String = "127.0.0.1"
    ) async throws -> TestConnection.Response {
        let connection = try await self.connect(from: peer)
        try await connection.sendRequest(method, target, headers: headers, bodyBytes: bodyBytes)
        let response = try await connection.readResponse(forHEAD: method == "HEAD")
        await connection.close()
        return response
    }

    /// `GET /publish?name=…&data=…` (percent-encoded), expecting 200; returns the seq.
    @discardableResult
    public func publish(_ channel: String, _ data: String) async throws -> Int {
        let response = try await self.request(
            "POST",
            "/publish?name=" + percentEncoded(channel),
            headers: ["Content-Type: text/plain"],
            body: data
        )
        guard response.status == 200, let seq = Int(response.body.split(separator: " ").last?.dropLast() ?? "")
        else {
            throw TestFailure("publish to \(channel) answered \(response.status) \(response.body)")
        }
        return seq
    }

    /// A WebSocket on a fresh connection; throws unless the handshake answers 101.
    public func webSocket(
        _ path: String,
        headers: [String] = [],
        from peer: String = "127.0.0.1"
    ) async throws
        -> TestWebSocket
    {
        try await TestWebSocket(on: try await self.connect(from: peer), path: path, headers: headers)
    }

    /// Moves the in-process server's clock forward by `amount` and runs what
    /// falls due: sweeps (read and keep-alive timeouts, `client_timeout`,
    /// heartbeats), history expiry, delivery rounds. Live servers keep real time:
    /// tests that need the clock run in-process.
    public func advance(by amount: TimeAmount) async {
        guard let river = self.inProcess else { preconditionFailure("advance(by:) needs the in-process mode") }
        await river.advance(by: amount)
    }
}

/// Runs `body` with a fresh River and always stops it.
@discardableResult
public func withRiver<T>(
    _ mode: TestRiver.Mode = .inProcess,
    _ configuration: RiverConfiguration = .testing,
    threads: Int = 1,
    lifetimeObserver: LifetimeObserver? = nil,
    _ body: (TestRiver) async throws -> T
) async throws -> T {
    let river = try await TestRiver.start(mode, configuration, threads: threads, lifetimeObserver: lifetimeObserver)
    do {
        let result = try await body(river)
        await river.stop()
        return result
    } catch {
        await river.stop()
        throw error
    }
}

/// Runs `body` with a fresh in-process River configured with `configuration`.
@discardableResult
public func withRiver<T>(
    _ configuration: RiverConfiguration,
    lifetimeObserver: LifetimeObserver? = nil,
    _ body: (TestRiver) async throws -> T
) async throws -> T {
    try await withRiver(.inProcess, configuration, lifetimeObserver: lifetimeObserver, body)
}

extension RiverConfiguration {
    /// The defaults, on a free port.
    public static var testing: RiverConfiguration {
        var configuration = RiverConfiguration()
        configuration.port = 0
        return configuration
    }
}

/// The test defaults with `change` applied.
public func configured(_ change: (inout RiverConfiguration) -> Void) -> RiverConfiguration {
    var configuration = RiverConfiguration.testing
    change(&configuration)
    return configuration
}

/// `text` percent-encoded for a query string (everything but unreserved characters).
public func percentEncoded(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            encoded.append(Character(Unicode.Scalar(byte)))
        default:
            encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
    }
    return encoded
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - self.count)) + self
    }
}

/// The river JSON for a message, as the server must write it.
public func riverMessage(_ channel: String, _ seq: Int, _ dataJSON: String) -> String {
    "[\"msg\", {\"channel\": \"\(channel)\", \"seq\": \(seq), \"data\": \(dataJSON)}]"
}

/// `text` with every `"epoch": N` replaced by `"epoch": E` (epochs are random).
public func maskingEpochs(_ text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let range = rest.range(of: "\"epoch\": ") {
        result += rest[..<range.upperBound]
        rest = rest[range.upperBound...]
        let digits = rest.prefix { $0.isNumber }
        result += digits.isEmpty ? "" : "E"
        rest = rest.dropFirst(digits.count)
    }
    return result + rest
}
