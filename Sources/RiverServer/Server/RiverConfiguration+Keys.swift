import Logging
import NIOCore
import RiverCore
import RiverRedisEngine

/// The keys of `river.conf` and the flags: one place that reads each value,
/// wherever it comes from.
extension RiverConfiguration {
    /// Every key `set(_:to:)` accepts, in documentation order.
    public static let keys = [
        "ip", "port", "threads", "log", "log_level", "client_timeout", "max_memory", "max_connections",
        "history_size", "history_ttl", "max_message_size", "max_channel_name", "max_channels", "channel_idle_ttl",
        "max_channels_per_connection", "max_commands_per_second", "websocket_compression_level",
        "presence_leave_delay", "presence_ttl",
        "max_presence_members", "presence_self_names", "max_subscriber_backlog", "read_timeout", "keepalive_timeout",
        "tcp_keepalive", "shutdown_timeout", "heartbeat",
        "allowed_origins", "public_dir", "publish_secret", "admin_secret", "token_secret", "token_public_key",
        "token_issuer",
        "token_audience", "private_prefix", "auth_url", "auth_headers", "auth_timeout", "auth_max_in_flight",
        "auth_renew_grace", "auth_cache_size", "admin_ip", "admin_port", "dashboard", "dashboard_history",
        "max_stats_streams", "engine", "redis", "redis_sentinel", "redis_master", "redis_wait", "tls_certificate",
        "tls_key",
        "http2", "http2_cleartext", "max_concurrent_streams",
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
        case "max_commands_per_second": self.maxCommandsPerSecond = try Self.integer(value, in: 1...1_000_000)
        case "websocket_compression_level": self.webSocketCompressionLevel = try Self.integer(value, in: 1...9)
        case "presence_leave_delay": self.presenceLeaveDelay = try Self.duration(value)
        case "presence_ttl": self.presenceTTL = try Self.duration(value, minimum: .seconds(3))
        case "max_presence_members": self.maxPresenceMembers = try Self.integer(value, in: 0...1_000_000)
        case "presence_self_names": self.presenceSelfNames = try Self.onOff(value)
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
        case "token_public_key": self.tokenPublicKey = try TokenPublicKey.load(path: try Self.nonEmpty(value))
        case "token_issuer": self.tokenIssuer = try Self.nonEmpty(value)
        case "token_audience": self.tokenAudience = try Self.nonEmpty(value)
        case "private_prefix": self.privatePrefix = try Self.nonEmpty(value)
        case "auth_url": self.authURL = try Self.authURL(value)
        case "auth_headers":
            let names = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map { $0.lowercased() }
            guard names.allSatisfy({ name in name.utf8.allSatisfy(HTTPRequestParser.isTokenByte) }) else {
                throw ConfigurationError("expected header field names separated by spaces, got '\(value)'")
            }
            self.authHeaders = Array(Set(names)).sorted()
        case "auth_timeout": self.authTimeout = try Self.duration(value, minimum: .milliseconds(10))
        case "auth_max_in_flight": self.authMaxInFlight = try Self.integer(value, in: 1...100_000)
        case "auth_renew_grace": self.authRenewGrace = try Self.duration(value)
        case "auth_cache_size": self.authCacheSize = try Self.integer(value, in: 0...10_000_000)
        case "admin_ip": self.adminHost = try Self.nonEmpty(value)
        case "admin_port": self.adminPort = try Self.integer(value, in: 0...65535)
        case "dashboard": self.dashboard = try Self.onOff(value)
        case "dashboard_history": self.dashboardHistory = try Self.integer(value, in: 10...86_400)
        case "max_stats_streams": self.maxStatsStreams = try Self.integer(value, in: 1...1000)
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
        case "http2": self.http2 = try Self.onOff(value)
        case "http2_cleartext": self.http2Cleartext = try Self.onOff(value)
        case "max_concurrent_streams": self.maxConcurrentStreams = try Self.integer(value, in: 1...65536)
        default: throw ConfigurationError("unknown key '\(key)'")
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

    /// An `http://` or `https://` URL with a host.
    private static func authURL(_ value: String) throws(ConfigurationError) -> String {
        let lower = value.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), value.split(separator: "/").count >= 2 else {
            throw ConfigurationError("expected an http:// or https:// URL, got '\(value)'")
        }
        return value
    }

    private static func onOff(_ value: String) throws(ConfigurationError) -> Bool {
        switch value.lowercased() {
        case "on", "yes", "true", "1": return true
        case "off", "no", "false", "0": return false
        default: throw ConfigurationError("expected on or off, got '\(value)'")
        }
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
        } catch  where error.isOutOfRange {
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
        } catch  where error.isOutOfRange {
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
