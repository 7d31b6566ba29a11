import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The certificate and key files River's listeners speak TLS with
/// (`tls_certificate`, `tls_key`), and their loading: at start-up, where a
/// failure stops River, and on SIGHUP, where it keeps the pair in use.
public struct TLSFiles: Sendable, Equatable {
    /// A PEM file: the server's certificate first, then any intermediates.
    public var certificate: String
    /// The PEM file of the certificate's private key, unencrypted.
    public var key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    /// Reads and checks both files as start-up does (the `river` command checks them with the configuration).
    public func check() throws(ConfigurationError) {
        _ = try self.load()
    }

    /// Reads and checks both files and builds the TLS context every new
    /// handshake uses. Throws one line naming the key, the file and the
    /// reason: unreadable, not PEM, encrypted, or a key that is not the certificate's.
    /// `applicationProtocols`: what ALPN offers, in order of preference.
    func load(
        applicationProtocols: [String] = [ApplicationProtocol.http1.alpnIdentifier]
    ) throws(ConfigurationError) -> TLSCredentials {
        let chain = try self.certificateChain()
        let privateKey = try self.privateKey()
        let context: NIOSSLContext
        do {
            let configuration = ConnectionSecurity.serverConfiguration(
                chain,
                privateKey,
                applicationProtocols: applicationProtocols
            )
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            // BoringSSL refuses a key whose public half is not the certificate's (KEY_VALUES_MISMATCH).
            throw ConfigurationError(
                "tls_key \(self.key): does not match the certificate in \(self.certificate) (\(error))"
            )
        }
        return TLSCredentials(context: context, leaf: chain[0], files: self)
    }

    private func certificateChain() throws(ConfigurationError) -> [NIOSSLCertificate] {
        let bytes = try Self.read(self.certificate, key: "tls_certificate")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw ConfigurationError("tls_certificate \(self.certificate): no PEM certificate in it (\(error))")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError("tls_certificate \(self.certificate): no PEM certificate in it")
        }
        return chain
    }

    private func privateKey() throws(ConfigurationError) -> NIOSSLPrivateKey {
        let bytes = try Self.read(self.key, key: "tls_key")
        if bytes.containsASCII("ENCRYPTED") {
            throw ConfigurationError("tls_key \(self.key): the key is encrypted; River needs it unencrypted")
        }
        do {
            // (A passphrase callback, so BoringSSL never prompts on a terminal.)
            return try NIOSSLPrivateKey(bytes: bytes, format: .pem) { (_: ([UInt8]) -> Void) in }
        } catch {
            throw ConfigurationError("tls_key \(self.key): no PEM private key in it (\(error))")
        }
    }

    /// The file's bytes, or the reason, prefixed with the configuration key that named it.
    private static func read(_ path: String, key: String) throws(ConfigurationError) -> [UInt8] {
        do {
            return try FileReader.bytes(atPath: path)
        } catch {
            throw ConfigurationError("\(key) \(error.description)")
        }
    }
}

/// A loaded certificate and key: the context new handshakes use, and what
/// the log says about it.
struct TLSCredentials: Sendable {
    let context: NIOSSLContext
    /// The server's own certificate (the chain's first).
    let leaf: NIOSSLCertificate
    let files: TLSFiles

    /// `CN=river.example, serial 1a2b…, valid until 2027-01-31T12:00:00Z`.
    var summary: String {
        let commonName = self.leaf.subjectName.first { $0.type == .commonName }?.value
        let serial = self.leaf.serialNumber.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        return "\(commonName.map { "CN=\($0), " } ?? "")serial \(serial), valid until "
            + Self.utc(self.leaf.notValidAfter)
    }

    /// Seconds until the certificate expires (negative: it has).
    func secondsToExpiry(now: time_t = time(nil)) -> Int {
        Int(self.leaf.notValidAfter) - Int(now)
    }

    /// A `time_t` as ISO 8601 in UTC.
    private static func utc(_ seconds: time_t) -> String {
        var time = seconds
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = [CChar](repeating: 0, count: 32)
        let count = strftime(&text, text.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
        return String(decoding: text[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Whether `text`'s bytes occur in the array.
    fileprivate func containsASCII(_ text: String) -> Bool {
        let needle = Array(text.utf8)
        guard self.count >= needle.count else { return false }
        for start in 0...(self.count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
