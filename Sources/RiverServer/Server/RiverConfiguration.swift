import Logging
import NIOCore
import RiverCore
import RiverRedisEngine

/// Everything River can be told at start-up. The same keys work in
/// `river.conf` (`key value`) and as command-line flags (`--key value`,
/// with dashes), and both go through `set(_:to:)`, so a value is checked the
/// same way wherever it comes from.
public struct RiverConfiguration: Sendable {
    /// `ip`: the address to listen on.
    public var host = "0.0.0.0"
    /// `port`: the TCP port (0 picks a free one).
    public var port = 9271
    /// `threads`: event loops; one per core by default.
    public var threads = System.coreCount
    /// `log`: a file to append log lines to (standard error when unset).
    public var logFile: String?
    /// `log_level`.
    public var logLevel = Logger.Level.info
    /// `client_timeout`: streams end cleanly after this long (nil: never).
    public var clientTimeout: TimeAmount?
    /// `max_connections`: beyond this, requests get 503 (nil: the open-files limit minus a reserve).
    public var maxConnections: Int?
    /// `history_size`, `history_ttl`, `max_memory`, `max_channels`, `channel_idle_ttl`.
    public var history = HistoryLimits()
    /// `max_message_size`: the largest message, in bytes (413 beyond).
    public var maxMessageSize = 64 * 1024
    /// `max_channel_name`: the longest channel name, in bytes (400 beyond).
    public var maxChannelName = 256
    /// `max_channels_per_connection`: the channels one HTTP subscription (or
    /// one `river.v2` WebSocket) may carry at once (400, or 429, beyond).
    public var maxChannelsPerConnection = 128
    /// `max_subscriber_backlog`: live messages a subscriber may have waiting
    /// for its socket, in bytes, before it is cut as a slow consumer.
    public var maxSubscriberBacklog = 1 << 20
    /// `read_timeout`: how long a request may take to arrive completely (408 beyond).
    public var readTimeout = TimeAmount.seconds(30)
    /// `keepalive_timeout`: how long an idle keep-alive connection stays open.
    public var keepAliveTimeout = TimeAmount.seconds(120)
    /// `tcp_keepalive`: how long a connection may be silent before TCP probes
    /// whether its peer is still there (nil: never). A peer that vanished
    /// without a FIN is dropped after three unanswered probes, 10 s apart.
    public var tcpKeepAlive: TimeAmount? = .seconds(60)
    /// `shutdown_timeout`: how long a graceful shutdown waits for connections to end.
    public var shutdownTimeout = TimeAmount.seconds(5)
    /// `heartbeat`: how often a quiet SSE stream gets a comment line and a
    /// quiet WebSocket a ping (nil: never).
    public var heartbeat: TimeAmount? = .seconds(15)
    /// `allowed_origins`: web origins allowed to use River from a browser (CORS, WebSocket `Origin`).
    public var allowedOrigins = CORSPolicy.everyOrigin
    /// `public_dir`: where `lib.js`, the chat demo and the legacy pages are
    /// (default: `Public` in the working directory or the source checkout).
    public var publicDirectory: String?
    /// `publish_secret`: when set, publishing needs it (or a token); it also
    /// opens the admin routes when there is no `admin_secret`.
    public var publishSecret: Secret?
    /// `admin_secret`: opens the admin routes (`/channels`, `/stats`, `/metrics`).
    public var adminSecret: Secret?
    /// `token_secret`: the HS256 key of access tokens; when set, tokens may publish.
    public var tokenSecret: Secret?
    /// `token_issuer`: when set, a token's `iss` must be this.
    public var tokenIssuer: String?
    /// `token_audience`: when set, a token's `aud` must name this.
    public var tokenAudience: String?
    /// `private_prefix`: channels whose name starts with these bytes need a token to subscribe.
    public var privatePrefix: String?
    /// `admin_ip`: the address of the admin listener (with `admin_port`).
    public var adminHost = "127.0.0.1"
    /// `admin_port`: when set, `/channels`, `/stats` and `/metrics` are served
    /// only on this port (0 picks a free one), not on `port`.
    public var adminPort: Int?
    /// `engine`: where channels live — `memory` (this process) or `redis` (shared by every node).
    public var engine = EngineKind.memory
    /// `redis URL [URL...]`: the Redis shards of the `redis` engine (channels are spread over them by name).
    public var redis = [RedisAddress(host: "127.0.0.1")]
    /// `redis_sentinel HOST:PORT [HOST:PORT...]`: find the shards' masters through these Sentinels.
    public var redisSentinels: [RedisAddress] = []
    /// `redis_master NAME [NAME...]`: with `redis_sentinel`, the master name of each shard.
    public var redisMasters: [String] = []
    /// `redis_wait N`: a publish is acknowledged once N replicas have it (0: at once).
    public var redisWait = 0
    /// `tls_certificate`: a PEM file with the server's certificate, then any
    /// intermediates; with `tls_key`, every listener (`port`, `admin_port`) speaks TLS only.
    public var tlsCertificate: String?
    /// `tls_key`: the PEM file of the certificate's private key (unencrypted; PKCS #8, SEC 1 or PKCS #1).
    public var tlsKey: String?

    /// The engines River can run on.
    public enum EngineKind: String, Sendable {
        case memory
        case redis
    }

    public init() {}

    /// The largest request body the parser buffers: a form-encoded message
    /// may triple in size through percent-encoding.
    var maxRequestBody: Int { 3 * self.maxMessageSize + 4096 }

    /// Unsent output over which a connection stops reading requests and a
    /// subscriber waits for its socket to drain (resuming at half of it).
    var outputHighWaterMark: Int { min(64 * 1024, self.maxSubscriberBacklog) }

    /// Every key `set(_:to:)` accepts, in documentation order.
    public static let keys = [
        "ip", "port", "threads", "log", "log_level", "client_timeout", "max_memory", "max_connections",
        "history_size", "history_ttl", "max_message_size", "max_channel_name", "max_channels", "channel_idle_ttl",
        "max_channels_per_connection", "max_subscriber_backlog", "read_timeout", "keepalive_timeout", "tcp_keepalive", "shutdown_timeout", "heartbeat",
        "allowed_origins", "public_dir", "publish_secret", "admin_secret", "token_secret", "token_issuer",
        "token_audience", "private_prefix", "admin_ip", "admin_port", "engine", "redis", "redis_sentinel",
        "redis_master", "redis_wait", "tls_certificate", "tls_key",
    ]

    /// Sets one key from its textual value; throws a one-line reason when the
    /// key is unknown or the value unacceptable.
    public mutating func set(_ key: String, to value: String) throws(ConfigurationError) {
        switch key {
        case "ip": self.host = try Self.nonEmpty(value)
        case "port": self.port = try Self.integer(value, in: 0...65535)
        case "threads": self.threads = try Self.integer(value, in: 1...1024)
        case "log": self.logFile = try Self.nonEmpty(value)
        case "log_level":
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw ConfigurationError(
                    "expected one of trace, debug, info, notice, warning, error, critical; got '\(value)'"
                )
            }
            self.logLevel = level
        case "client_timeout":
            let timeout = try Self.duration(value)
            self.clientTimeout = timeout == .zero ? nil : timeout
        case "max_memory": self.history.maxMemory = try Self.size(value)
        case "max_connections": self.maxConnections = try Self.integer(value, in: 1...10_000_000)
        case "history_size": self.history.size = try Self.integer(value, in: 0...1_000_000)
        case "history_ttl": self.history.ttl = try Self.duration(value, minimum: .seconds(1))
        case "max_message_size": self.maxMessageSize = try Self.size(value, range: 1...(64 << 20))
        case "max_channel_name": self.maxChannelName = try Self.integer(value, in: 1...65536)
        case "max_channels": self.history.maxChannels = try Self.integer(value, in: 1...1_000_000_000)
        case "channel_idle_ttl": self.history.channelIdleTTL = try Self.duration(value)
        case "max_channels_per_connection": self.maxChannelsPerConnection = try Self.integer(value, in: 1...4096)
        case "max_subscriber_backlog": self.maxSubscriberBacklog = try Self.size(value, range: 1024...(1 << 30))
        case "read_timeout": self.readTimeout = try Self.duration(value, minimum: .seconds(1))
        case "keepalive_timeout": self.keepAliveTimeout = try Self.duration(value, minimum: .seconds(1))
        case "tcp_keepalive":
            let idle = try Self.duration(value)
            // Linux refuses TCP_KEEPIDLE above 32767 s (the socket option fails).
            guard idle == .zero || (idle >= .seconds(1) && idle <= .seconds(32767)) else {
                throw ConfigurationError("expected 0 (off) or 1 s to 32767 s (the kernel's TCP_KEEPIDLE limit)")
            }
            self.tcpKeepAlive = idle == .zero ? nil : idle
        case "shutdown_timeout": self.shutdownTimeout = try Self.duration(value)
        case "heartbeat":
            let interval = try Self.duration(value)
            self.heartbeat = interval == .zero ? nil : interval
        case "allowed_origins": self.allowedOrigins = try CORSPolicy(value)
        case "public_dir": self.publicDirectory = try Self.nonEmpty(value)
        case "publish_secret": self.publishSecret = try Self.secret(value, minimumBytes: 16)
        case "admin_secret": self.adminSecret = try Self.secret(value, minimumBytes: 16)
        case "token_secret": self.tokenSecret = try Self.secret(value, minimumBytes: 32)
        case "token_issuer": self.tokenIssuer = try Self.nonEmpty(value)
        case "token_audience": self.tokenAudience = try Self.nonEmpty(value)
        case "private_prefix": self.privatePrefix = try Self.nonEmpty(value)
        case "admin_ip": self.adminHost = try Self.nonEmpty(value)
        case "admin_port": self.adminPort = try Self.integer(value, in: 0...65535)
        case "engine":
            guard let engine = EngineKind(rawValue: value) else {
                throw ConfigurationError("expected memory or redis, got '\(value)'")
            }
            self.engine = engine
        case "redis": self.redis = try Self.addresses(value, parse: RedisAddress.init(_:))
        case "redis_sentinel": self.redisSentinels = try Self.addresses(value, parse: RedisAddress.init(sentinel:))
        case "redis_master":
            let names = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard !names.isEmpty else { throw ConfigurationError("a master name is required") }
            guard Set(names).count == names.count else { throw ConfigurationError("a master is named twice") }
            self.redisMasters = names
        case "redis_wait": self.redisWait = try Self.integer(value, in: 0...16)
        case "tls_certificate": self.tlsCertificate = try Self.nonEmpty(value)
        case "tls_key": self.tlsKey = try Self.nonEmpty(value)
        default: throw ConfigurationError("unknown key '\(key)'")
        }
    }

    /// Where each shard of the `redis` engine is: through Sentinel when
    /// `redis_sentinel` is set (one shard per `redis_master`), else the `redis` addresses.
    public func redisShards() throws(ConfigurationError) -> [RedisShardLocation] {
        if self.redisSentinels.isEmpty {
            guard self.redisMasters.isEmpty else { throw ConfigurationError("redis_master needs redis_sentinel") }
            return self.redis.map { .address($0) }
        }
        guard !self.redisMasters.isEmpty else {
            throw ConfigurationError("redis_sentinel needs redis_master: the master name of each shard")
        }
        return self.redisMasters.map { .sentinel(master: $0, sentinels: self.redisSentinels) }
    }

    /// The certificate and key files when TLS is on (nil: plain TCP); one without the other is refused.
    public func tlsFiles() throws(ConfigurationError) -> TLSFiles? {
        switch (self.tlsCertificate, self.tlsKey) {
        case (nil, nil): return nil
        case (let certificate?, let key?): return TLSFiles(certificate: certificate, key: key)
        case (nil, _?): throw ConfigurationError("tls_key needs tls_certificate")
        case (_?, nil): throw ConfigurationError("tls_certificate needs tls_key")
        }
    }

    /// One or more addresses separated by spaces, none twice.
    private static func addresses(
        _ value: String,
        parse: (String) throws(RedisAddress.ParseError) -> RedisAddress
    ) throws(ConfigurationError) -> [RedisAddress] {
        var addresses: [RedisAddress] = []
        for word in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let address: RedisAddress
            do {
                address = try parse(String(word))
            } catch {
                throw ConfigurationError(error.description)
            }
            guard !addresses.contains(where: { $0.host == address.host && $0.port == address.port }) else {
                throw ConfigurationError("\(address) is listed twice")
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else { throw ConfigurationError("an address is required") }
        return addresses
    }

    private static func nonEmpty(_ value: String) throws(ConfigurationError) -> String {
        guard !value.isEmpty else { throw ConfigurationError("a value is required") }
        return value
    }

    /// Secrets must be long enough not to be guessed; an HS256 key at least
    /// as long as the hash (RFC 7518 section 3.2).
    private static func secret(_ value: String, minimumBytes: Int) throws(ConfigurationError) -> Secret {
        guard value.utf8.count >= minimumBytes else {
            throw ConfigurationError("this secret needs at least \(minimumBytes) bytes")
        }
        return Secret(value)
    }

    private static func integer(_ value: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        do {
            return try CheckedNumber.parse(value, in: range)
        } catch where error.isOutOfRange {
            throw ConfigurationError(error.description)
        } catch {
            throw ConfigurationError("expected an integer, got '\(value)'")
        }
    }

    /// Bytes, with an optional `k`, `m` or `g` suffix (powers of 1024).
    private static func size(_ value: String, range: ClosedRange<Int> = 0...Int.max) throws(ConfigurationError) -> Int {
        var digits = Substring(value.lowercased())
        var multiplier = 1
        switch digits.last {
        case "k": multiplier = 1 << 10
        case "m": multiplier = 1 << 20
        case "g": multiplier = 1 << 30
        default: break
        }
        if multiplier > 1 { digits = digits.dropLast() }
        let number: Int
        do {
            number = try CheckedNumber.parse(digits, in: 0...Int.max)
        } catch where error.isOutOfRange {
            throw ConfigurationError("\(value) is out of range \(range.lowerBound)...\(range.upperBound) bytes")
        } catch {
            throw ConfigurationError("expected a size in bytes (suffix k, m or g allowed), got '\(value)'")
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, range.contains(bytes) else {
            throw ConfigurationError("\(value) is out of range \(range.lowerBound)...\(range.upperBound) bytes")
        }
        return bytes
    }

    /// Seconds, or a number with an `ms`, `s`, `m` or `h` suffix.
    private static func duration(_ value: String, minimum: TimeAmount = .zero) throws(ConfigurationError) -> TimeAmount
    {
        let text = value.lowercased()
        let units: [(String, Int64)] = [
            ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
        ]
        var nanosecondsPerUnit: Int64 = 1_000_000_000
        var digits = Substring(text)
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            nanosecondsPerUnit = scale
            digits = text.dropLast(suffix.count)
            break
        }
        let number: UInt64
        do {
            number = try CheckedNumber.parse(digits, in: 0...UInt64(Int64.max / nanosecondsPerUnit))
        } catch {
            throw ConfigurationError("expected a duration in seconds (suffix ms, s, m or h allowed), got '\(value)'")
        }
        let amount = TimeAmount.nanoseconds(Int64(number) * nanosecondsPerUnit)
        guard amount >= minimum else {
            throw ConfigurationError("\(value) is shorter than the minimum of \(minimum.nanoseconds / 1_000_000) ms")
        }
        return amount
    }
}

/// A configuration value or file River refuses to start with.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
