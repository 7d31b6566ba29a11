import Logging
import NIOCore
import RiverCore

/// What every connection handler shares: configuration, engine, the hubs and
/// per-loop contexts, the connection limiter and the logger. Immutable and
/// `Sendable`; loop-confined parts are reached through `NIOLoopBoundBox`.
final class ServerContext: Sendable {
    let configuration: RiverConfiguration
    let engine: Engine
    let fanOut: FanOut
    let loops: [NIOLoopBoundBox<LoopContext>]
    let limiter: ConnectionLimiter
    let logger: Logger
    let parserLimits: HTTPRequestParser.Limits
    let staticFiles: StaticFiles
    let access: AccessPolicy
    let metrics = RiverMetrics()
    /// The 503 a connection over `max_connections` gets at accept.
    let refusedAnswer: ByteBuffer
    /// When the server started, for `uptime_seconds`.
    let startedAt = NIODeadline.now()

    /// (Tests build one directly around an `EmbeddedEventLoop`; servers use `make`.)
    init(
        configuration: RiverConfiguration,
        engine: Engine,
        fanOut: FanOut,
        loops: [NIOLoopBoundBox<LoopContext>],
        maxConnections: Int,
        staticFiles: StaticFiles,
        access: AccessPolicy,
        logger: Logger
    ) {
        self.staticFiles = staticFiles
        self.access = access
        self.configuration = configuration
        self.engine = engine
        self.fanOut = fanOut
        self.loops = loops
        self.limiter = ConnectionLimiter(limit: maxConnections)
        self.logger = logger
        self.parserLimits = HTTPRequestParser.Limits(maxBodyBytes: configuration.maxRequestBody)
        self.refusedAnswer = RefusedConnectionHandler.answer(limit: maxConnections)
    }

    /// Builds the context, creating each loop's `LoopContext` on its loop.
    static func make(
        configuration: RiverConfiguration,
        engine: Engine,
        fanOut: FanOut,
        maxConnections: Int,
        staticFiles: StaticFiles,
        lifetimeProbe: LifetimeProbe?,
        logger: Logger
    ) async throws -> ServerContext {
        var loops: [NIOLoopBoundBox<LoopContext>] = []
        for hub in fanOut.hubs {
            let loop = hub.eventLoop
            loops.append(
                try await loop.submit {
                    let context = LoopContext(
                        hub: hub.value,
                        engine: engine,
                        configuration: configuration,
                        lifetimeProbe: lifetimeProbe
                    )
                    return NIOLoopBoundBox(context, eventLoop: loop)
                }.get()
            )
        }
        return ServerContext(
            configuration: configuration,
            engine: engine,
            fanOut: fanOut,
            loops: loops,
            maxConnections: maxConnections,
            staticFiles: staticFiles,
            access: await AccessPolicy.make(configuration),
            logger: logger
        )
    }

    /// The context of the loop the caller runs on.
    func loopContext(on loop: EventLoop) -> LoopContext {
        for box in self.loops where box.eventLoop === loop {
            return box.value
        }
        preconditionFailure("event loop \(loop) is not one of the server's")
    }
}
