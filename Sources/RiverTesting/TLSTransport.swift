import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOTLS

/// How a test client speaks TLS: what it trusts, the name it checks, what it offers.
public struct TestTLSClient: Sendable {
    /// PEM files whose certificates the client trusts, and nothing else
    /// (never the system's roots): a test authority, or a server's own file.
    public var trustedCertificates: [String]
    /// The name sent as SNI and checked against the certificate (NIOSSL also
    /// accepts a certificate naming the address it connected to, whatever this is).
    public var serverName = "localhost"
    /// The protocols ALPN offers (none when empty).
    public var applicationProtocols = ["http/1.1"]
    public var minimumVersion = TLSVersion.tlsv12
    public var maximumVersion: TLSVersion?
    /// TLS 1.2 cipher suites, OpenSSL's syntax (nil: NIOSSL's defaults).
    public var cipherSuites: String?

    public init(trusting trustedCertificates: [String]) {
        self.trustedCertificates = trustedCertificates
    }

    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try self.trustedCertificates.flatMap(NIOSSLCertificate.fromPEMFile))
        configuration.applicationProtocols = self.applicationProtocols
        configuration.minimumTLSVersion = self.minimumVersion
        configuration.maximumTLSVersion = self.maximumVersion
        if let cipherSuites = self.cipherSuites { configuration.cipherSuites = cipherSuites }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// What a completed handshake settled.
public struct TLSHandshake: Sendable {
    /// The protocol ALPN chose (nil: none).
    public let negotiatedProtocol: String?
    /// The common name of the certificate the server presented.
    public let peerCommonName: String?
}

/// The handshake failed: the client refused the server, or the server the client.
public struct TLSHandshakeFailed: Error, CustomStringConvertible {
    public let error: Error
    public var description: String { "TLS handshake failed: \(self.error)" }
}

/// A live connection over TLS: `LiveTransport` with NIOSSL's client handler
/// under the test's bytes. `connect` returns once the handshake is done, so a
/// refused certificate is an error there, not a failed send later.
enum TLSTransport {
    static func connect(
        port: Int,
        client: TestTLSClient,
        receiveBufferBytes: Int? = nil
    ) async throws -> (LiveTransport, TLSHandshake) {
        let context = try client.makeContext()
        let handshake = NIOLockedValueBox<EventLoopFuture<TLSHandshake>?>(nil)
        let transport = try await LiveTransport.connect(port: port, receiveBufferBytes: receiveBufferBytes) {
            channel in
            let observer = HandshakeObserver(promise: channel.eventLoop.makePromise())
            handshake.withLockedValue { $0 = observer.promise.futureResult }
            let tls = try NIOSSLClientHandler(context: context, serverHostname: client.serverName)
            try channel.pipeline.syncOperations.addHandlers(tls, observer)
        }
        guard let settled = handshake.withLockedValue({ $0 }) else { throw TestFailure("no TLS handler") }
        do {
            return (transport, try await Self.bounded(settled, by: .seconds(10)))
        } catch {
            await transport.close()
            throw error
        }
    }

    /// `future`'s value, or `TimedOut` after `limit`.
    private static func bounded<T: Sendable>(_ future: EventLoopFuture<T>, by limit: TimeAmount) async throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        future.cascade(to: promise)
        let timeout = future.eventLoop.scheduleTask(in: limit) {
            promise.fail(TimedOut("TLS handshake not done within \(limit)"))
        }
        defer { timeout.cancel() }
        return try await promise.futureResult.get()
    }
}

/// Completes its promise when the handshake does, or fails it with the reason it did not.
private final class HandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let promise: EventLoopPromise<TLSHandshake>
    private var settled = false

    init(promise: EventLoopPromise<TLSHandshake>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiatedProtocol) = event as? TLSUserEvent {
            let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
            let commonName = certificate?.subjectName.first { $0.type == .commonName }?.value
            self.settle(.success(TLSHandshake(negotiatedProtocol: negotiatedProtocol, peerCommonName: commonName)))
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        self.settle(.failure(TLSHandshakeFailed(error: error)))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.settle(.failure(TLSHandshakeFailed(error: ChannelError.eof)))
        context.fireChannelInactive()
    }

    /// The first outcome wins; what happens to the connection later is the test's to read.
    private func settle(_ outcome: Result<TLSHandshake, Error>) {
        guard !self.settled else { return }
        self.settled = true
        self.promise.completeWith(outcome)
    }
}

@available(*, unavailable)
extension HandshakeObserver: Sendable {}

extension TestConnection {
    /// A connection over TLS to 127.0.0.1:`port` (any server: a `river`
    /// process, another node), once its handshake is done.
    public static func liveTLS(
        port: Int,
        client: TestTLSClient,
        readTimeout: Duration = .seconds(10)
    ) async throws -> (TestConnection, TLSHandshake) {
        let (transport, handshake) = try await TLSTransport.connect(port: port, client: client)
        return (TestConnection(transport, readTimeout: readTimeout), handshake)
    }
}

extension TestRiver {
    /// A TLS client of this River that trusts the certificates of its `tls_certificate`.
    public var tlsClient: TestTLSClient {
        guard let certificate = self.configuration.tlsCertificate else {
            preconditionFailure("this River has no tls_certificate")
        }
        return TestTLSClient(trusting: [certificate])
    }

    /// A live connection over TLS with `client`'s settings (default: `tlsClient`),
    /// and what its handshake settled; `receiveBufferBytes` shrinks the client's socket buffer.
    public func connectTLS(
        _ client: TestTLSClient? = nil,
        receiveBufferBytes: Int? = nil
    ) async throws -> (TestConnection, TLSHandshake) {
        let (transport, handshake) = try await TLSTransport.connect(
            port: self.port,
            client: client ?? self.tlsClient,
            receiveBufferBytes: receiveBufferBytes
        )
        return (TestConnection(transport, readTimeout: self.defaultReadTimeout), handshake)
    }
}
