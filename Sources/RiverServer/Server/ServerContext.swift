import Logging
import NIOCore
import RiverCore
import RiverMemoryEngine
import RiverRedisEngine

/// What every connection handler shares: configuration, engine, the hubs and
/// per-loop contexts, the connection limiter and the logger. Immutable and
/// `Sendable`; loop-confined parts are reached through `NIOLoopBoundBox`.
///
/// `RiverServer` builds one over its event loops and binds sockets to it;
/// the test kit builds one over a single test loop and feeds it connections
/// without sockets. Both accept connections through `accept(_:listener:)`.
package final class ServerContext: Sendable {
    let configuration: RiverConfiguration
    package let engine: Engine
    let fanOut: FanOut
    let loops: [NIOLoopBoundBox<ServerLoop>]
    let limiter: ConnectionLimiter
    let logger: Logger
    package let parserLimits: HTTPRequestParser.Limits
    let staticFiles: StaticFiles
    let access: AccessPolicy
    /// The application at `auth_url`, asked before subscribes and publishes (nil: not configured).
    let authorizer: Authorizer?
    /// TLS on every listener (`tls_certificate`, `tls_key`); nil: plain TCP.
    let security: ConnectionSecurity?
    let metrics = RiverMetrics()
    /// The 503 a connection over `max_connections` gets at accept.
    let refusedAnswer: ByteBuffer
    /// When the server started, for `uptime_seconds`.
    let startedAt = NIODeadline.now()
    /// Open `/stats/stream` connections against `max_stats_streams`.
    let statsStreamLimiter: ConnectionLimiter
    /// The dashboard's sampler, on the first loop (nil with `dashboard off`).
    let dashboard: NIOLoopBoundBox<DashboardSampler>?

    private init(
        configuration: RiverConfiguration,
        engine: Engine,
        fanOut: FanOut,
        loops: [NIOLoopBoundBox<ServerLoop>],
        staticFiles: StaticFiles,
        access: AccessPolicy,
        authorizer: Authorizer?,
        security: ConnectionSecurity?,
        logger: Logger
    ) {
        let maxConnections = configuration.maxConnections ?? RiverServer.defaultMaxConnections()
        self.staticFiles = staticFiles
        self.access = access
        self.authorizer = authorizer
        self.security = security
        self.configuration = configuration
        self.engine = engine
        self.fanOut = fanOut
        self.loops = loops
        self.limiter = ConnectionLimiter(limit: maxConnections)
        self.logger = logger
        var parserLimits = HTTPRequestParser.Limits(maxBodyBytes: configuration.maxRequestBody)
        if configuration.authURL != nil {
            parserLimits.keptFields = Set(configuration.authHeaders).subtracting(["cookie", "authorization"])
        }
        self.parserLimits = parserLimits
        self.refusedAnswer = RefusedConnectionHandler.answer(limit: maxConnections)
        self.statsStreamLimiter = ConnectionLimiter(limit: configuration.maxStatsStreams)
        self.dashboard =
            configuration.dashboard
            ? NIOLoopBoundBox.makeBoxSendingValue(
                DashboardSampler(capacity: configuration.dashboardHistory),
                eventLoop: loops[0].eventLoop
            ) : nil
    }

    /// The server's parts on `group`'s event loops: hubs, the configured
    /// engine, each loop's `ServerLoop` (made on its loop), access control.
    ///
    /// - Parameters:
    ///   - clock: the time the memory engine's history expires by (tests pass their loop's).
    ///   - lifetimeObserver: told of every per-connection object (tests).
    package static func make(
        configuration: RiverConfiguration,
        group: EventLoopGroup,
        clock: MonotonicClock = .system,
        lifetimeObserver: LifetimeObserver? = nil,
        logger: Logger
    ) async throws -> ServerContext {
        let staticFiles = try StaticFiles.load(directory: configuration.publicDirectory)
        var security: ConnectionSecurity?
        if let files = try configuration.tlsFiles() {
            security = try ConnectionSecurity(files: files, offersHTTP2: configuration.http2)
        }
        let fanOut = FanOut(group: group, compressionLevel: configuration.webSocketCompressionLevel)
        let engine: Engine
        switch configuration.engine {
        case .memory:
            engine = MemoryEngine(
                fanOut: fanOut,
                limits: configuration.history,
                clock: clock,
                presenceLeaveDelay: configuration.presenceLeaveDelay
            )
        case .redis:
            var settings = RedisEngine.Settings(
                shards: try configuration.redisShards(),
                limits: configuration.history,
                waitReplicas: configuration.redisWait
            )
            settings.presenceLeaveDelay = configuration.presenceLeaveDelay
            settings.presenceTTL = configuration.presenceTTL
            engine = await RedisEngine.start(fanOut: fanOut, settings: settings, logger: logger)
        }
        let access = try await AccessPolicy.make(configuration)
        var loops: [NIOLoopBoundBox<ServerLoop>] = []
        for hub in fanOut.hubs {
            let loop = hub.eventLoop
            loops.append(
                try await loop.submit {
                    NIOLoopBoundBox(
                        ServerLoop(
                            hub: hub.value,
                            engine: engine,
                            configuration: configuration,
                            revokedTokens: access.revokedTokens,
                            lifetimeObserver: lifetimeObserver
                        ),
                        eventLoop: loop
                    )
                }.get()
            )
        }
        return ServerContext(
            configuration: configuration,
            engine: engine,
            fanOut: fanOut,
            loops: loops,
            staticFiles: staticFiles,
            access: access,
            authorizer: Authorizer.make(configuration, clock: clock),
            security: security,
            logger: logger
        )
    }

    /// A server with the memory engine on the one event loop the caller runs
    /// on, built synchronously (the fuzzer's `EmbeddedEventLoop`). Its access
    /// control must not use tokens (registering a token key is asynchronous).
    package static func makeOnCurrentLoop(
        configuration: RiverConfiguration,
        eventLoop: EventLoop,
        logger: Logger
    ) throws -> ServerContext {
        eventLoop.preconditionInEventLoop()
        let fanOut = FanOut(group: eventLoop, compressionLevel: configuration.webSocketCompressionLevel)
        let engine = MemoryEngine(
            fanOut: fanOut,
            limits: configuration.history,
            presenceLeaveDelay: configuration.presenceLeaveDelay
        )
        let access = AccessPolicy(withoutTokens: configuration)
        let loop = ServerLoop(
            hub: fanOut.hubs[0].value,
            engine: engine,
            configuration: configuration,
            revokedTokens: access.revokedTokens,
            lifetimeObserver: nil
        )
        return ServerContext(
            configuration: configuration,
            engine: engine,
            fanOut: fanOut,
            loops: [NIOLoopBoundBox(loop, eventLoop: eventLoop)],
            staticFiles: try StaticFiles.load(directory: configuration.publicDirectory),
            access: access,
            authorizer: nil,
            security: nil,
            logger: logger
        )
    }

    /// The context of the loop the caller runs on.
    func loopContext(on loop: EventLoop) -> ServerLoop {
        for box in self.loops where box.eventLoop === loop {
            return box.value
        }
        preconditionFailure("event loop \(loop) is not one of the server's")
    }

    /// Sets up a connection just accepted on `channel`'s loop: TLS first when
    /// it is configured, then the application protocol's handlers — at once
    /// when it can only be HTTP/1.1, else through a `ProtocolSelector`.
    package func accept(_ channel: Channel, listener: ListenerRole) throws {
        let loop = self.loopContext(on: channel.eventLoop)
        loop.counters.connectionsAccepted += 1
        loop.lifetimeObserver?.track(channel)
        if let security = self.security {
            // Below everything: the handlers above read and write plaintext (DESIGN.md, decision 16).
            try channel.pipeline.syncOperations.addHandler(security.makeHandler())
        }
        guard let slot = ConnectionSlot(self.limiter) else {
            loop.counters.connectionsRejected += 1
            let handler = RefusedConnectionHandler(answer: self.refusedAnswer)
            loop.lifetimeObserver?.track(handler)
            try channel.pipeline.syncOperations.addHandler(handler)
            return
        }
        let source: ProtocolSelector.Source?
        if let security = self.security {
            source = security.offersHTTP2 ? .alpn : nil
        } else {
            source = self.configuration.http2Cleartext ? .preface : nil
        }
        guard let source else {
            try self.serve(channel, speaking: .http1, listener: listener, loop: loop, slot: .some(slot))
            return
        }
        let selector = ProtocolSelector(source: source, server: self, listener: listener, loop: loop, slot: slot)
        try channel.pipeline.syncOperations.addHandler(selector)
    }

    /// Adds the handlers of `applicationProtocol` above the transport (TCP or
    /// TLS); they give `slot` back when the connection closes.
    func serve(
        _ channel: Channel,
        speaking applicationProtocol: ApplicationProtocol,
        listener: ListenerRole,
        loop: ServerLoop,
        slot: consuming ConnectionSlot?
    ) throws {
        switch applicationProtocol {
        case .http1:
            let handler = HTTPConnectionHandler(server: self, loop: loop, listener: listener, slot: slot)
            try channel.pipeline.syncOperations.addHandler(handler)
        case .http2:
            try self.serveHTTP2(channel, listener: listener, loop: loop, slot: slot)
        }
    }

    /// Advances each loop's clock once a second (timeouts, heartbeats); with
    /// the dashboard on, also runs each loop's lag probe and the sampler.
    package func startSweepers() -> [RepeatedTask] {
        var tasks = self.loops.map { box in
            box.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                box.value.sweep()
            }
        }
        guard let dashboard = self.dashboard else { return tasks }
        for box in self.loops {
            let interval = LoopInstruments.probeInterval
            tasks.append(
                box.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    box.value.instruments?.probeFired(at: box.eventLoop.now)
                }
            )
        }
        tasks.append(
            dashboard.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                dashboard.value.tick(self)
            }
        )
        return tasks
    }

    /// The dashboard's kept samples, read on its loop, answered on `loop`.
    func dashboardHistory(on loop: EventLoop) -> EventLoopFuture<[ByteBuffer]> {
        guard let dashboard = self.dashboard else { return loop.makeSucceededFuture([]) }
        return dashboard.eventLoop.submit { Array(dashboard.value.history) }.hop(to: loop)
    }

    /// Starts a graceful shutdown on every loop: streams end cleanly, idle connections close.
    package func quiesce() {
        for box in self.loops {
            box.eventLoop.execute { box.value.quiesce() }
        }
    }

    /// The connections still open, on all loops.
    package func openConnections() async -> Int {
        var total = 0
        for box in self.loops {
            total += (try? await box.eventLoop.submit { box.value.openConnections }.get()) ?? 0
        }
        return total
    }

    /// Closes the connections to `auth_url`.
    package func stopAuthorizer() async {
        await self.authorizer?.shutdown()
    }

    /// Carries out `order` on this node's loops and (through the engine) on every other
    /// node; how many connections it ended.
    func carryOut(_ order: NodeOrder, on loop: EventLoop) -> EventLoopFuture<Int> {
        let counts = self.loops.map { box in box.eventLoop.submit { box.value.carryOut(order) } }
        let here = EventLoopFuture.reduce(0, counts, on: loop, +)
        let elsewhere = self.engine.tellOtherNodes(order, on: loop)
        return here.and(elsewhere).map { $0 + $1 }
    }

    /// Revokes a token on every node (`POST /tokens/revoke`): refused until its `exp` plus the
    /// clock skew tolerated, its connections ended; how many there were.
    func revoke(_ revocation: TokenRevocation, on loop: EventLoop) throws(RequestError) -> EventLoopFuture<Int> {
        guard self.access.checksTokens else {
            throw .badRequest("tokens are not enabled (token_secret, token_public_key): there is nothing to revoke")
        }
        let until = revocation.expires + self.access.clockSkew
        guard self.access.revokedTokens.revoke(revocation.id, until: until, now: WallClock.nowMillis() / 1000) else {
            throw .unavailable("the revoked-token list is full: \(RevokedTokens.capacity) tokens are still in force")
        }
        return self.carryOut(.revokeToken(id: revocation.id, until: until), on: loop)
    }

    /// Closes every connection still open.
    package func terminate() async {
        for box in self.loops {
            try? await box.eventLoop.submit { box.value.terminate() }.get()
        }
    }
}

extension ServerContext {
    /// Decodes and checks a token as a request's would be (nil: accepted), with the refusal's reason.
    package func refusal(ofToken token: String) async -> String? {
        switch await self.access.verify(token: token) {
        case .success: return nil
        case .failure(let error): return error.reason
        }
    }
}
