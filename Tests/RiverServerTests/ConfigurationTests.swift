import Crypto
import Foundation
import NIOCore
import RiverRedisEngine
import Testing

@testable import RiverServer

/// `river.conf` parsing and value checking.
@Suite struct ConfigurationTests {
    @Test func everyKeyIsAcceptedWithItsUnits() throws {
        let keyPath = try temporaryFile(P256.Signing.PrivateKey().publicKey.pemRepresentation, suffix: ".pem")
        defer { try? FileManager.default.removeItem(atPath: keyPath) }
        var configuration = RiverConfiguration()
        try ConfigurationFile.apply(
            """
            # the original's keys
            ip 127.0.0.2
            port 1235
            threads 3
            log river.log
            client_timeout 30
            max_memory 64m
            max_connections 500
            # River's
            history_size 250
            history_ttl 2h
            max_message_size 8k
            max_channel_name 64
            channel_idle_ttl 90s
            max_subscriber_backlog 256k
            max_channels_per_connection 20
            max_commands_per_second 7
            presence_leave_delay 2s
            presence_ttl 9s
            max_presence_members 50
            presence_self_names on
            read_timeout 1500ms
            keepalive_timeout 1m
            shutdown_timeout 3
            tcp_keepalive 2m
            log_level Debug
            heartbeat 20
            allowed_origins https://a.example https://b.example
            public_dir /srv/river
            publish_secret 0123456789abcdef
            admin_secret fedcba9876543210
            token_secret 0123456789abcdef0123456789abcdef
            token_public_key \(keyPath)
            token_issuer https://auth.example
            token_audience river
            max_channels 5000
            private_prefix private-
            auth_url http://127.0.0.1:8080/river/auth
            auth_headers Cookie X-Session authorization
            auth_timeout 250ms
            auth_max_in_flight 16
            auth_renew_grace 2m
            auth_cache_size 100
            admin_ip 127.0.0.3
            admin_port 9273
            engine redis
            redis redis://10.1.2.3:6380/1 redis://10.1.2.4:6380/1
            redis_wait 1
            """,
            path: "river.conf",
            to: &configuration
        )
        #expect(configuration.host == "127.0.0.2")
        #expect(configuration.port == 1235)
        #expect(configuration.threads == 3)
        #expect(configuration.logFile == "river.log")
        #expect(configuration.clientTimeout == .seconds(30))
        #expect(configuration.history.maxMemory == 64 << 20)
        #expect(configuration.maxConnections == 500)
        #expect(configuration.history.size == 250)
        #expect(configuration.history.ttl == .hours(2))
        #expect(configuration.maxMessageSize == 8192)
        #expect(configuration.maxChannelName == 64)
        #expect(configuration.history.channelIdleTTL == .seconds(90))
        #expect(configuration.maxSubscriberBacklog == 256 * 1024)
        #expect(configuration.maxChannelsPerConnection == 20)
        #expect(configuration.maxCommandsPerSecond == 7)
        #expect(configuration.presenceLeaveDelay == .seconds(2))
        #expect(configuration.presenceTTL == .seconds(9))
        #expect(configuration.maxPresenceMembers == 50)
        #expect(configuration.presenceSelfNames)
        #expect(configuration.readTimeout == .milliseconds(1500))
        #expect(configuration.keepAliveTimeout == .minutes(1))
        #expect(configuration.shutdownTimeout == .seconds(3))
        #expect(configuration.tcpKeepAlive == .minutes(2))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.heartbeat == .seconds(20))
        #expect(configuration.allowedOrigins.origins == ["https://a.example", "https://b.example"])
        #expect(configuration.publicDirectory == "/srv/river")
        #expect(configuration.publishSecret == Secret("0123456789abcdef"))
        #expect(configuration.adminSecret == Secret("fedcba9876543210"))
        #expect(configuration.tokenSecret == Secret("0123456789abcdef0123456789abcdef"))
        #expect(configuration.tokenIssuer == "https://auth.example")
        #expect(configuration.tokenAudience == "river")
        #expect(configuration.history.maxChannels == 5000)
        #expect(configuration.privatePrefix == "private-")
        #expect(configuration.adminHost == "127.0.0.3")
        #expect(configuration.adminPort == 9273)
        #expect(configuration.engine == .redis)
        #expect(
            configuration.redis == [
                RedisAddress(host: "10.1.2.3", port: 6380, database: 1),
                RedisAddress(host: "10.1.2.4", port: 6380, database: 1),
            ]
        )
        #expect(configuration.redisWait == 1)
        #expect(try configuration.redisShards().count == 2)
        #expect(configuration.tokenPublicKey?.algorithm == .es256)
        #expect(configuration.authURL == "http://127.0.0.1:8080/river/auth")
        #expect(configuration.authHeaders == ["authorization", "cookie", "x-session"])
        #expect(configuration.authTimeout == .milliseconds(250))
        #expect(configuration.authMaxInFlight == 16)
        #expect(configuration.authRenewGrace == .seconds(120))
        #expect(configuration.authCacheSize == 100)
        for (key, value) in [
            ("auth_url", "ftp://x"), ("auth_url", "http://"), ("auth_headers", "Cookie: x"),
            ("auth_timeout", "5ms"), ("auth_max_in_flight", "0"),
        ] {
            var refused = RiverConfiguration()
            #expect(throws: ConfigurationError.self, "\(key) \(value)") { try refused.set(key, to: value) }
        }
        #expect(RiverConfiguration.keys.count == 57)
    }

    /// With Sentinel, each `redis_master` name is a shard found through the Sentinels.
    @Test func sentinelShardsAreOnePerMasterName() throws {
        var configuration = RiverConfiguration()
        try ConfigurationFile.apply(
            "redis_sentinel 10.0.0.1:26379 10.0.0.2\nredis_master alpha beta\n",
            path: "river.conf",
            to: &configuration
        )
        let sentinels = [RedisAddress(host: "10.0.0.1", port: 26379), RedisAddress(host: "10.0.0.2", port: 26379)]
        #expect(
            try configuration.redisShards() == [
                .sentinel(master: "alpha", sentinels: sentinels), .sentinel(master: "beta", sentinels: sentinels),
            ]
        )
        configuration.redisMasters = []
        #expect(throws: ConfigurationError("redis_sentinel needs redis_master: the master name of each shard")) {
            try configuration.redisShards()
        }
    }

    @Test func tcpKeepAliveZeroMeansOff() throws {
        var configuration = RiverConfiguration()
        try configuration.set("tcp_keepalive", to: "0")
        #expect(configuration.tcpKeepAlive == nil)
        #expect(throws: ConfigurationError.self) { try configuration.set("tcp_keepalive", to: "500ms") }
    }

    @Test func clientTimeoutZeroMeansNever() throws {
        var configuration = RiverConfiguration()
        try configuration.set("client_timeout", to: "0")
        #expect(configuration.clientTimeout == nil)
    }

    @Test(arguments: [
        ("threads 0", "river.conf:1: threads: 0 is out of range 1...1024"),
        ("\n\nhistory_ttl 0", "river.conf:3: history_ttl: 0 is shorter than the minimum of 1000 ms"),
        (
            "max_message_size -5",
            "river.conf:1: max_message_size: expected a size in bytes (suffix k, m or g allowed), got '-5'"
        ),
        (
            "log_level loud",
            "river.conf:1: log_level: expected one of trace, debug, info, notice, warning, error, critical; got 'loud'"
        ),
        ("ip", "river.conf:1: ip: a value is required"),
        ("maxmemory 1", "river.conf:1: maxmemory: unknown key 'maxmemory'"),
        ("redis redis://a:1 redis://a:1", "river.conf:1: redis: redis://a:1 is listed twice"),
        ("redis redis://a:1 http://b", "river.conf:1: redis: expected redis://HOST:PORT, got 'http://b'"),
        ("redis_wait 99", "river.conf:1: redis_wait: 99 is out of range 0...16"),
        ("redis_master a a", "river.conf:1: redis_master: a master is named twice"),
    ])
    func badLinesNameFileLineAndReason(contents: String, message: String) {
        var configuration = RiverConfiguration()
        #expect(throws: ConfigurationError(message)) {
            try ConfigurationFile.apply(contents, path: "river.conf", to: &configuration)
        }
    }
}
