import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// TLS for River's listeners: the certificate and key in use, swapped
/// whole on reload, and the handler that encrypts one connection.
///
/// Encryption is per connection and below River's HTTP handler (DESIGN.md,
/// decision 16): the handlers write the same shared plaintext buffers over
/// TLS as over TCP, and `NIOSSLServerHandler` encrypts what each connection
/// is sent. A reload changes what new handshakes use; a connection keeps the
/// `NIOSSLContext` it started with for its whole life.
///
/// Versions and ciphers (what `serverConfiguration` narrows in NIOSSL's defaults):
/// - TLS 1.2 and 1.3 only (NIOSSL allows 1.0 and 1.1 by default).
/// - TLS 1.2: ECDHE key exchange with an AEAD cipher — AES-GCM or
///   ChaCha20-Poly1305 — only; NIOSSL's defaults also allow CBC modes and
///   RSA key exchange (no forward secrecy). TLS 1.3's suites are all AEAD and
///   BoringSSL's fixed set.
/// - ALPN offers `h2` then `http/1.1` (`http/1.1` alone with `http2 off`);
///   a client that names no protocol gets HTTP/1.1.
package final class ConnectionSecurity: Sendable {
    /// The protocols ALPN offers (RFC 7301), in River's order of preference.
    let applicationProtocols: [String]

    /// TLS 1.2 suites: forward secrecy and authenticated encryption only (Mozilla's "intermediate" list).
    static let cipherSuites = "ECDHE+AESGCM:ECDHE+CHACHA20"

    private let current: NIOLockedValueBox<TLSCredentials>

    /// Loads `files`; throws the start-up error (the file and the reason) when they cannot serve.
    package init(files: TLSFiles, offersHTTP2: Bool = true) throws(ConfigurationError) {
        let protocols: [ApplicationProtocol] = offersHTTP2 ? [.http2, .http1] : [.http1]
        self.applicationProtocols = protocols.map(\.alpnIdentifier)
        self.current = NIOLockedValueBox(try files.load(applicationProtocols: self.applicationProtocols))
    }

    /// True when ALPN may choose HTTP/2: the protocol is known only once the handshake completes.
    var offersHTTP2: Bool { self.applicationProtocols.count > 1 }

    /// The files in use.
    var files: TLSFiles { self.current.withLockedValue { $0.files } }

    /// What the log says about the certificate in use.
    var summary: String { self.current.withLockedValue { $0.summary } }

    /// The TLS handler for a connection just accepted, with the credentials in use now.
    func makeHandler() -> NIOSSLServerHandler {
        // (A lock per accepted connection, never per message: uncontended, it costs
        // a few nanoseconds beside a handshake's hundreds of microseconds.)
        NIOSSLServerHandler(context: self.current.withLockedValue { $0.context })
    }

    /// Reads the files again and, when they are good, makes new handshakes
    /// use them; open connections keep theirs. A failure keeps the pair in use.
    ///
    /// - Returns: the summary of the new certificate, or the reason it was not taken.
    @discardableResult
    func reload() -> Result<String, ConfigurationError> {
        let files = self.files
        do {
            let credentials = try files.load(applicationProtocols: self.applicationProtocols)
            self.current.withLockedValue { $0 = credentials }
            return .success(credentials.summary)
        } catch {
            return .failure(error)
        }
    }

    /// Warns when the certificate in use has expired or expires within a fortnight.
    func warnIfExpiring(_ logger: Logger) {
        let (seconds, summary) = self.current.withLockedValue { ($0.secondsToExpiry(), $0.summary) }
        if seconds <= 0 {
            logger.warning("TLS certificate has expired: \(summary); clients will refuse it")
        } else if seconds < 14 * 86_400 {
            let days = seconds / 86_400
            let left = days == 0 ? "less than a day" : days == 1 ? "1 day" : "\(days) days"
            logger.warning("TLS certificate expires in \(left): \(summary)")
        }
    }

    /// River's TLS server settings for a certificate chain and its key.
    static func serverConfiguration(
        _ chain: [NIOSSLCertificate],
        _ key: NIOSSLPrivateKey,
        applicationProtocols: [String]
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.cipherSuites
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }
}

/// The application protocol a connection speaks over TLS or TCP: what
/// `ServerContext` builds the rest of the pipeline for. When only HTTP/1.1
/// can be spoken it is known at accept; otherwise a `ProtocolSelector`
/// waits for ALPN (TLS) or the connection preface (h2c).
enum ApplicationProtocol: Sendable {
    case http1
    case http2

    /// The protocol's ALPN identifier (RFC 7301, section 6).
    var alpnIdentifier: String {
        switch self {
        case .http1: return "http/1.1"
        case .http2: return "h2"
        }
    }
}
