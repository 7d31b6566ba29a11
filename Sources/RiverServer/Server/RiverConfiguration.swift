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
    /// `websocket_compression_level`: zlib's level for permessage-deflate
    /// (1 fastest … 9 smallest); each message is compressed once per loop.
    public var webSocketCompressionLevel = PerMessageDeflater.defaultLevel
    /// `max_commands_per_second`: the commands one `river.v2` WebSocket may
    /// send per second (a burst of as many is allowed); beyond, each is answered 429.
    public var maxCommandsPerSecond = 100
    /// `presence_leave_delay`: how long a user whose last subscription to a
    /// channel ended stays listed; a reconnect within it is neither a leave nor a join.
    public var presenceLeaveDelay = TimeAmount.seconds(5)
    /// `presence_ttl` (Redis engine): a node that stops refreshing its presence
    /// (it died) sees its members leave after this.
    public var presenceTTL = TimeAmount.seconds(30)
    /// `max_presence_members`: the most members a presence answer lists (then `"truncated": true`).
    public var maxPresenceMembers = 1000
    /// `presence_self_names`: subscribers of public channels may name themselves
    /// for presence (`user=`), listed as unverified (off by default).
    public var presenceSelfNames = false
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
    /// `token_public_key FILE`: a PEM public key (P-256, RSA of 2048 bits or
    /// more, or Ed25519) verifying tokens of its one algorithm (ES256, RS256
    /// or EdDSA); with `token_secret` too, each verifies its own algorithm.
    public var tokenPublicKey: TokenPublicKey?
    /// `token_issuer`: when set, a token's `iss` must be this.
    public var tokenIssuer: String?
    /// `token_audience`: when set, a token's `aud` must name this.
    public var tokenAudience: String?
    /// `private_prefix`: channels whose name starts with these bytes need a token to subscribe.
    public var privatePrefix: String?
    /// `auth_url`: River asks the application at this URL before a subscribe, a
    /// publish or a `river.v2` connection (PROTOCOL.md C4; nil: never).
    public var authURL: String?
    /// `auth_headers`: the request header fields forwarded to `auth_url`, lower-cased names.
    public var authHeaders = ["cookie", "authorization"]
    /// `auth_timeout`: how long River waits for the application's answer (503 beyond).
    public var authTimeout = TimeAmount.seconds(1)
    /// `auth_max_in_flight`: questions waiting for the application at once (503 beyond, at once).
    public var authMaxInFlight = 64
    /// `auth_renew_grace`: how long a live subscription outlives an unreachable application.
    public var authRenewGrace = TimeAmount.seconds(60)
    /// `auth_cache_size`: decisions remembered (least recently used go first).
    public var authCacheSize = 65536
    /// `admin_ip`: the address of the admin listener (with `admin_port`).
    public var adminHost = "127.0.0.1"
    /// `admin_port`: when set, `/channels`, `/stats` and `/metrics` are served
    /// only on this port (0 picks a free one), not on `port`.
    public var adminPort: Int?
    /// `dashboard`: the operator's page (`/dashboard`), its stream
    /// (`/stats/stream`) and what they measure (delivery latency, event-loop
    /// lag, the busiest channels); off, none of it runs.
    public var dashboard = true
    /// `dashboard_history`: how many one-second samples the dashboard keeps
    /// (and sends a page when it opens).
    public var dashboardHistory = 600
    /// `max_stats_streams`: how many `/stats/stream` connections may be open at once (more: 503).
    public var maxStatsStreams = 8
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
    /// `http2`: TLS listeners offer HTTP/2 by ALPN (`h2`, then `http/1.1`).
    public var http2 = true
    /// `http2_cleartext`: plain listeners take HTTP/2 by prior knowledge (h2c) beside HTTP/1.1.
    public var http2Cleartext = false
    /// `max_concurrent_streams`: HTTP/2 streams one connection may have open at once.
    public var maxConcurrentStreams = 256

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
}

/// A configuration value or file River refuses to start with.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
