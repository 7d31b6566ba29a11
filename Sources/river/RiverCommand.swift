import ArgumentParser
import Logging
import RiverServer
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `river`: parses the command line and `river.conf`, then runs the server
/// until SIGTERM or SIGINT (SIGHUP reloads the TLS certificate and key).
/// Everything else lives in `RiverServer`.
@main
struct RiverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "river",
        abstract: "A real-time push server speaking the river comet API.",
        discussion:
            "Flags override the values of --config. Sizes take k, m or g; durations take ms, s, m or h (default seconds)."
    )

    @Option(help: "A river.conf file: `key value` lines, # comments.")
    var config: String?

    @Option(name: .customLong("host"), help: "Address to listen on (ip). Default 0.0.0.0.")
    var ip: String?
    @Option(help: "Port to listen on. Default 9271.") var port: String?
    @Option(help: "Event loops. Default: one per core.") var threads: String?
    @Option(help: "Append log lines to this file instead of standard error.") var log: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical. Default info.") var logLevel: String?
    @Option(help: "End streams cleanly after this long; 0 never. Default 0.") var clientTimeout: String?
    @Option(help: "Total retained history. Default 256m.") var maxMemory: String?
    @Option(help: "Open connections before 503. Default: open-files limit - 64.") var maxConnections: String?
    @Option(help: "Messages retained per channel. Default 100.") var historySize: String?
    @Option(help: "How long a message is retained. Default 3600.") var historyTtl: String?
    @Option(help: "Largest message in bytes. Default 64k.") var maxMessageSize: String?
    @Option(help: "Longest channel name in bytes. Default 256.") var maxChannelName: String?
    @Option(help: "Most channels held at once (memory engine). Default: max_memory / 1k.") var maxChannels: String?
    @Option(help: "How long an idle, empty channel is remembered. Default 60.") var channelIdleTtl: String?
    @Option(help: "Unsent bytes before a slow subscriber is cut. Default 1m.") var maxSubscriberBacklog: String?
    @Option(help: "zlib level of permessage-deflate, 1 (fastest) to 9 (smallest). Default 1.")
    var websocketCompressionLevel: String?
    @Option(help: "Time allowed to send a whole request. Default 30.") var readTimeout: String?
    @Option(help: "Idle keep-alive connections close after this. Default 120.") var keepaliveTimeout: String?
    @Option(help: "Silence before TCP keepalive probes a connection's peer; 0 never. Default 60.")
    var tcpKeepalive: String?
    @Option(help: "How long shutdown waits for streams to end. Default 5.") var shutdownTimeout: String?
    @Option(help: "Quiet SSE streams get a comment, quiet WebSockets a ping, this often; 0 never. Default 15.")
    var heartbeat: String?
    @Option(help: "Web origins allowed from browsers (CORS, WebSocket Origin): * or a list. Default *.")
    var allowedOrigins: String?
    @Option(help: "Directory with lib.js and the chat demo. Default: ./Public or the source checkout's.")
    var publicDir: String?
    @Option(help: "Secret required to publish and administer channels (or env RIVER_PUBLISH_SECRET). Default: none.")
    var publishSecret: String?
    @Option(help: "Secret that opens /channels, /stats and /metrics (or env RIVER_ADMIN_SECRET). Default: none.")
    var adminSecret: String?
    @Option(help: "HS256 key of access tokens (or env RIVER_TOKEN_SECRET). Default: none, tokens off.")
    var tokenSecret: String?
    @Option(help: "PEM public key verifying ES256 (P-256), RS256 (RSA) or EdDSA (Ed25519) tokens. Default: none.")
    var tokenPublicKey: String?
    @Option(help: "When set, a token's iss must be this. Default: not checked.") var tokenIssuer: String?
    @Option(help: "When set, a token's aud must name this. Default: not checked.") var tokenAudience: String?
    @Option(help: "Channels starting with this need a token to subscribe. Default: none.") var privatePrefix: String?
    @Option(
        help: "Ask the application at this URL before subscribes, publishes and river.v2 connections. Default: none."
    )
    var authUrl: String?
    @Option(help: "Request header fields forwarded to auth_url. Default: Cookie Authorization.") var authHeaders:
        String?
    @Option(help: "How long to wait for auth_url's answer (503 beyond). Default 1s.") var authTimeout: String?
    @Option(help: "Questions to auth_url in flight at once (503 beyond). Default 64.") var authMaxInFlight: String?
    @Option(help: "How long a subscription outlives an unreachable auth_url. Default 60s.") var authRenewGrace: String?
    @Option(help: "Decisions of auth_url remembered. Default 65536.") var authCacheSize: String?
    @Option(help: "Address of the admin listener. Default 127.0.0.1.") var adminHost: String?
    @Option(help: "Serve /channels, /stats and /metrics only on this port. Default: on the main port.")
    var adminPort: String?
    @Option(help: "on or off: /dashboard, /stats/stream and what they measure. Default on.") var dashboard: String?
    @Option(help: "memory (this process) or redis (channels shared by every node on the Redis). Default memory.")
    var engine: String?
    @Option(help: "A Redis shard of the redis engine, redis://HOST:PORT[/DB]; repeat for more. Default 127.0.0.1:6379.")
    var redis: [String] = []
    @Option(help: "Find the shards' masters through this Sentinel, HOST:PORT; repeat for more. Default: none.")
    var redisSentinel: [String] = []
    @Option(help: "With --redis-sentinel: the master name of a shard; repeat for more shards.")
    var redisMaster: [String] = []
    @Option(help: "Acknowledge a publish once this many Redis replicas have it. Default 0.") var redisWait: String?
    @Option(help: "PEM certificate (then intermediates): with --tls-key, every listener speaks TLS. SIGHUP reloads it.")
    var tlsCertificate: String?
    @Option(help: "PEM private key of --tls-certificate, unencrypted. Default: none, plain TCP.") var tlsKey: String?
    @Option(help: "on: TLS listeners offer HTTP/2 by ALPN (h2, then http/1.1). Default on.") var http2: String?
    @Option(help: "on: plain listeners also take HTTP/2 by prior knowledge (h2c). Default off.")
    var http2Cleartext: String?
    @Option(help: "HTTP/2 streams a connection may have open at once. Default 256.") var maxConcurrentStreams: String?

    private var flags: [(key: String, flag: String, value: String?)] {
        [
            ("ip", "host", self.ip), ("port", "port", self.port), ("threads", "threads", self.threads),
            ("log", "log", self.log), ("log_level", "log-level", self.logLevel),
            ("client_timeout", "client-timeout", self.clientTimeout), ("max_memory", "max-memory", self.maxMemory),
            ("max_connections", "max-connections", self.maxConnections),
            ("history_size", "history-size", self.historySize), ("history_ttl", "history-ttl", self.historyTtl),
            ("max_message_size", "max-message-size", self.maxMessageSize),
            ("max_channel_name", "max-channel-name", self.maxChannelName),
            ("max_channels", "max-channels", self.maxChannels),
            ("channel_idle_ttl", "channel-idle-ttl", self.channelIdleTtl),
            ("max_subscriber_backlog", "max-subscriber-backlog", self.maxSubscriberBacklog),
            ("websocket_compression_level", "websocket-compression-level", self.websocketCompressionLevel),
            ("tcp_keepalive", "tcp-keepalive", self.tcpKeepalive),
            ("read_timeout", "read-timeout", self.readTimeout),
            ("keepalive_timeout", "keepalive-timeout", self.keepaliveTimeout),
            ("shutdown_timeout", "shutdown-timeout", self.shutdownTimeout),
            ("heartbeat", "heartbeat", self.heartbeat), ("allowed_origins", "allowed-origins", self.allowedOrigins),
            ("public_dir", "public-dir", self.publicDir),
            ("publish_secret", "publish-secret", self.publishSecret ?? Self.environment("RIVER_PUBLISH_SECRET")),
            ("admin_secret", "admin-secret", self.adminSecret ?? Self.environment("RIVER_ADMIN_SECRET")),
            ("token_secret", "token-secret", self.tokenSecret ?? Self.environment("RIVER_TOKEN_SECRET")),
            ("token_public_key", "token-public-key", self.tokenPublicKey),
            ("token_issuer", "token-issuer", self.tokenIssuer),
            ("token_audience", "token-audience", self.tokenAudience),
            ("private_prefix", "private-prefix", self.privatePrefix), ("auth_url", "auth-url", self.authUrl),
            ("auth_headers", "auth-headers", self.authHeaders), ("auth_timeout", "auth-timeout", self.authTimeout),
            ("auth_max_in_flight", "auth-max-in-flight", self.authMaxInFlight),
            ("auth_renew_grace", "auth-renew-grace", self.authRenewGrace),
            ("auth_cache_size", "auth-cache-size", self.authCacheSize), ("admin_ip", "admin-host", self.adminHost),
            ("admin_port", "admin-port", self.adminPort), ("dashboard", "dashboard", self.dashboard),
            ("engine", "engine", self.engine),
            ("redis", "redis", Self.joined(self.redis)),
            ("redis_sentinel", "redis-sentinel", Self.joined(self.redisSentinel)),
            ("redis_master", "redis-master", Self.joined(self.redisMaster)),
            ("redis_wait", "redis-wait", self.redisWait),
            ("tls_certificate", "tls-certificate", self.tlsCertificate), ("tls_key", "tls-key", self.tlsKey),
            ("http2", "http2", self.http2), ("http2_cleartext", "http2-cleartext", self.http2Cleartext),
            ("max_concurrent_streams", "max-concurrent-streams", self.maxConcurrentStreams),
        ]
    }

    /// A repeated flag's values as one configuration value (nil when not given).
    private static func joined(_ values: [String]) -> String? {
        values.isEmpty ? nil : values.joined(separator: " ")
    }

    /// Secrets can come from the environment, out of sight of `ps`.
    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    func run() async throws {
        var configuration = RiverConfiguration()
        let output: LineLogHandler.Output
        do {
            if let path = self.config {
                try ConfigurationFile.load(path, into: &configuration)
            }
            for (key, flag, value) in self.flags {
                guard let value else { continue }
                do {
                    try configuration.set(key, to: value)
                } catch {
                    throw ConfigurationError("--\(flag): \(error.description)")
                }
            }
            if configuration.engine == .redis { _ = try configuration.redisShards() }
            try configuration.tlsFiles()?.check()
            output = try configuration.logFile.map(LineLogHandler.Output.appending(toFile:)) ?? .standardError
        } catch {
            var message = "river: \(error)\n"
            message.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            throw ExitCode(78)  // EX_CONFIG
        }

        let level = configuration.logLevel
        LoggingSystem.bootstrap { _ in LineLogHandler(output: output, level: level) }
        let logger = Logger(label: "river")
        let service = RiverService(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
    }
}
