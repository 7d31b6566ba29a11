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
    /// TLS on every listener (`tls_certificate`, `tls_key`); nil: plain TCP.
    let security: ConnectionSecurity?
    let metrics = RiverMetrics()
    /// The 503 a connection over `max_connections` gets at accept.
    let refusedAnswer: ByteBuffer
    /// When the server started, for `uptime_seconds`.
    let startedAt = NIODeadline.now()

    private init(
        configuration: RiverConfiguration,
        engine: Engine,
        fanOut: FanOut,
        loops: [NIOLoopBoundBox<ServerLoop>],
        staticFiles: StaticFiles,
        access: AccessPolicy,
        security: ConnectionSecurity?,
        logger: Logger
    ) {
        let maxConnections = configuration.maxConnections ?? RiverServer.defaultMaxConnections()
        self.staticFiles = staticFiles
        self.access = access
        self.security = security
        self.configuration = configuration
        self.engine = engine
        self.fanOut = fanOut
        self.loops = loops
        self.limiter = ConnectionLimiter(limit: maxConnections)
        self.logger = logger
        self.parserLimits = HTTPRequestParser.Limits(maxBodyBytes: configuration.maxRequestBody)
        self.refusedAnswer = RefusedConnectionHandler.answer(limit: maxConnections)
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
            security = try ConnectionSecurity(files: files)
        }
        let fanOut = FanOut(group: group)
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
            access: try await AccessPolicy.make(configuration),
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
        let fanOut = FanOut(group: eventLoop)
        let engine = MemoryEngine(
            fanOut: fanOut,
            limits: configuration.history,
            presenceLeaveDelay: configuration.presenceLeaveDelay
        )
        let loop = ServerLoop(
            hub: fanOut.hubs[0].value,
            engine: engine,
            configuration: configuration,
            lifetimeObserver: nil
        )
        return ServerContext(
            configuration: configuration,
            engine: engine,
            fanOut: fanOut,
            loops: [NIOLoopBoundBox(loop, eventLoop: eventLoop)],
            staticFiles: try StaticFiles.load(directory: configuration.publicDirectory),
            access: AccessPolicy(withoutTokens: configuration),
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
    /// it is configured, then the application protocol's handlers.
    package func accept(_ channel: Channel, listener: ListenerRole) throws {
        let loop = self.loopContext(on: channel.eventLoop)
        loop.counters.connectionsAccepted += 1
        loop.lifetimeObserver?.track(channel)
        if let security = self.security {
            // Below everything: the handlers above read and write plaintext (DESIGN.md, decision 16).
            try channel.pipeline.syncOperations.addHandler(security.makeHandler())
        }
        // (Only HTTP/1.1 is offered, so it is known before the handshake; see `ApplicationProtocol`.)
        try self.serve(channel, speaking: .http1, listener: listener, loop: loop)
    }

    /// Adds the handlers of `applicationProtocol` above the transport (TCP or TLS).
    private func serve(
        _ channel: Channel,
        speaking applicationProtocol: ApplicationProtocol,
        listener: ListenerRole,
        loop: ServerLoop
    ) throws {
        switch applicationProtocol {
        case .http1: try self.serveHTTP1(channel, listener: listener, loop: loop)
        }
    }

    /// An `HTTPConnectionHandler` serving `listener`'s routes, or, over
    /// `max_connections`, a `RefusedConnectionHandler` answering 503.
    private func serveHTTP1(_ channel: Channel, listener: ListenerRole, loop: ServerLoop) throws {
        let handler: ChannelHandler
        if let slot = ConnectionSlot(self.limiter) {
            // (The handler gives the slot back when the connection closes.)
            handler = HTTPConnectionHandler(server: self, loop: loop, listener: listener, slot: slot)
        } else {
            loop.counters.connectionsRejected += 1
            handler = RefusedConnectionHandler(answer: self.refusedAnswer)
            loop.lifetimeObserver?.track(handler)
        }
        try channel.pipeline.syncOperations.addHandler(handler)
    }

    /// Advances each loop's clock once a second: timeouts, heartbeats.
    package func startSweepers() -> [RepeatedTask] {
        self.loops.map { box in
            box.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                box.value.sweep()
            }
        }
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
