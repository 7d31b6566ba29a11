import Logging
import NIOCore
import NIOPosix
import RiverCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A running River server: the event loops, the listening socket, the engine
/// and the per-loop sweepers. `start` binds and returns; `shutdown` stops
/// accepting, ends every stream cleanly and releases everything.
public final class RiverServer: Sendable {
    /// The address the server listens on (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    /// The admin listener's address, when `admin_port` is set.
    public let adminAddress: SocketAddress?
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel: Channel
    private let adminChannel: Channel?
    private let context: ServerContext
    private let sweepers: [RepeatedTask]

    public var port: Int { self.localAddress.port ?? 0 }

    private init(
        group: MultiThreadedEventLoopGroup,
        serverChannel: Channel,
        adminChannel: Channel?,
        context: ServerContext,
        sweepers: [RepeatedTask]
    ) {
        self.localAddress = serverChannel.localAddress!
        self.adminAddress = adminChannel?.localAddress
        self.group = group
        self.serverChannel = serverChannel
        self.adminChannel = adminChannel
        self.context = context
        self.sweepers = sweepers
    }

    /// Starts the event loops and the engine, binds, and logs the start-up line.
    ///
    /// `lifetimeObserver` (tests) is told of every connection handler and subscriber the server makes.
    public static func start(
        configuration: RiverConfiguration,
        logger: Logger,
        lifetimeObserver: LifetimeObserver? = nil
    ) async throws -> RiverServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            let context = try await ServerContext.make(
                configuration: configuration,
                group: group,
                lifetimeObserver: lifetimeObserver,
                logger: logger
            )
            let adminPort = configuration.adminPort
            let serverChannel = try await Self.bootstrap(
                group: group,
                context: context,
                listener: adminPort == nil ? .all : .publicOnly
            ).bind(host: configuration.host, port: configuration.port).get()
            var adminChannel: Channel?
            if let adminPort {
                do {
                    adminChannel = try await Self.bootstrap(group: group, context: context, listener: .adminOnly)
                        .bind(host: configuration.adminHost, port: adminPort).get()
                } catch {
                    try? await serverChannel.close()
                    throw error
                }
            }
            let sweepers = context.startSweepers()
            let address = serverChannel.localAddress!
            logger.info(
                "River listening on \(address.ipAddress ?? configuration.host):\(address.port ?? 0) — engine \(context.engine.name), \(configuration.threads) threads, max_connections \(context.limiter.limit), history \(configuration.history.size) messages / \(configuration.history.ttl.nanoseconds / 1_000_000_000) s per channel, max_memory \(configuration.history.maxMemory) bytes, max_message_size \(configuration.maxMessageSize) bytes, max_channel_name \(configuration.maxChannelName) bytes, max_channels \(configuration.history.channelLimit)"
            )
            if let admin = adminChannel?.localAddress {
                logger.info("admin routes on \(admin.ipAddress ?? configuration.adminHost):\(admin.port ?? 0) only")
            }
            if let security = context.security {
                let protocols = security.applicationProtocols.joined(separator: ", ")
                logger.info(
                    "TLS on every listener (TLS 1.2+, ALPN \(protocols)): \(security.files.certificate) — \(security.summary)"
                )
                security.warnIfExpiring(logger)
            }
            if configuration.http2Cleartext {
                logger.info("HTTP/2 by prior knowledge (h2c) beside HTTP/1.1 on plain listeners")
            }
            logger.info("access control: \(context.access.summary)")
            if context.authorizer != nil {
                let timeout = configuration.authTimeout.nanoseconds / 1_000_000
                logger.info("auth_url on: every subscribe, publish and river.v2 connection asks the application (auth_timeout \(timeout) ms)")
            }
            logger.debug("static files", metadata: ["directory": "\(context.staticFiles.directory ?? "none")"])
            return RiverServer(
                group: group,
                serverChannel: serverChannel,
                adminChannel: adminChannel,
                context: context,
                sweepers: sweepers
            )
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func bootstrap(group: EventLoopGroup, context: ServerContext, listener: ListenerRole) -> ServerBootstrap
    {
        let configuration = context.configuration
        // The output a connection may have unsent before it stops reading requests and a
        // subscriber waits for the socket to drain: the same budget for every kind of output.
        let waterMark = ChannelOptions.Types.WriteBufferWaterMark(
            low: configuration.outputHighWaterMark / 2,
            high: configuration.outputHighWaterMark
        )
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.maxMessagesPerRead, value: 16)
            // (TCP_NODELAY, which NIO sets on the listener, and TCP keepalive are
            // inherited by accepted sockets: no system call per connection.)
            .childChannelOption(.writeBufferWaterMark, value: waterMark)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Each connection keeps its last read buffer; start small (a subscribe
            // request is a few hundred bytes) and let busy publishers grow it.
            .childChannelOption(.recvAllocator, value: CompactRecvBufferAllocator())
        if let keepAlive = configuration.tcpKeepAlive {
            bootstrap = TCPKeepAlive(idle: keepAlive).apply(to: bootstrap)
        }
        return bootstrap.childChannelInitializer { channel in
            do {
                try context.accept(channel, listener: listener)
                return channel.eventLoop.makeSucceededVoidFuture()
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Whether the listeners speak TLS.
    public var usesTLS: Bool { self.context.security != nil }

    /// Reads `tls_certificate` and `tls_key` again (on SIGHUP): new
    /// handshakes use the new pair, open connections keep theirs. A pair
    /// that cannot serve (a missing file, bad PEM, a key that is not the
    /// certificate's) is not taken and the one in use stays. Logs one line either way.
    ///
    /// - Returns: whether the new pair is in use; false too without TLS.
    @discardableResult
    public func reloadCertificates() -> Bool {
        guard let security = self.context.security else {
            self.context.logger.notice("TLS reload asked, but TLS is not configured: nothing to reload")
            return false
        }
        switch security.reload() {
        case .success(let summary):
            self.context.logger.notice("TLS certificate reloaded: \(security.files.certificate) — \(summary)")
            security.warnIfExpiring(self.context.logger)
            return true
        case .failure(let error):
            self.context.logger.error("TLS reload failed, keeping the certificate in use: \(error.description)")
            return false
        }
    }

    /// Graceful shutdown: stop accepting, end every stream with its last
    /// chunk, let in-flight requests finish, close whatever is left after
    /// `shutdown_timeout`, then stop the engine and the event loops.
    public func shutdown() async {
        try? await self.serverChannel.close()
        try? await self.adminChannel?.close()
        self.context.quiesce()
        let deadline = NIODeadline.now() + self.context.configuration.shutdownTimeout
        while await self.context.openConnections() > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)  // (pacing: connections end on their own loops)
        }
        await self.context.terminate()
        for sweeper in self.sweepers {
            sweeper.cancel()
        }
        await self.context.stopAuthorizer()
        await self.context.engine.shutdown()
        try? await self.group.shutdownGracefully()
        self.context.logger.info("River stopped")
    }

    /// The open-files limit (raised to its hard maximum) minus a reserve for
    /// the listening socket, log files and engine connections.
    static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let files = limit.rlim_cur > UInt(1 << 24) ? 1 << 20 : Int(limit.rlim_cur)
        return max(files - 64, 16)
    }
}
