import Logging
import NIOCore
import NIOEmbedded
import RiverCore
import RiverServer

/// A River on one `NIOAsyncTestingEventLoop`, with no socket and no thread of
/// its own: connections are `NIOAsyncTestingChannel`s carrying the real
/// connection handlers, and the server's clock (sweeps, timeouts,
/// heartbeats, history expiry, delivery rounds) moves only when the test
/// advances it. Everything else is the real server: dispatcher, access
/// control, engine, hubs, subscribers.
public final class InProcessRiver: Sendable {
    public let eventLoop: NIOAsyncTestingEventLoop
    let context: ServerContext
    private let sweepers: [RepeatedTask]

    private init(eventLoop: NIOAsyncTestingEventLoop, context: ServerContext, sweepers: [RepeatedTask]) {
        self.eventLoop = eventLoop
        self.context = context
        self.sweepers = sweepers
    }

    /// Builds the server on a new test loop; `configuration.engine` must be the memory engine.
    public static func start(
        _ configuration: RiverConfiguration,
        lifetimeObserver: LifetimeObserver? = nil
    ) async throws -> InProcessRiver {
        precondition(configuration.engine == .memory, "an in-process River runs the memory engine; go live for Redis")
        let eventLoop = NIOAsyncTestingEventLoop()
        var logger = Logger(label: "river-in-process")
        logger.logLevel = .critical
        let context = try await ServerContext.make(
            configuration: configuration,
            group: eventLoop,
            clock: MonotonicClock { eventLoop.now },
            lifetimeObserver: lifetimeObserver,
            logger: logger
        )
        let sweepers = try await eventLoop.submit { context.startSweepers() }.get()
        return InProcessRiver(eventLoop: eventLoop, context: context, sweepers: sweepers)
    }

    /// A new connection from `peer`, accepted as the server accepts a socket's.
    public func connect(from peer: SocketAddress) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel(loop: self.eventLoop)
        let context = self.context
        try await self.eventLoop.submit { try context.accept(channel, listener: .all) }.get()
        try await channel.connect(to: peer)
        await self.eventLoop.run()
        return channel
    }

    /// Moves the server's clock forward by `amount`, running everything due on the way.
    public func advance(by amount: TimeAmount) async {
        await self.eventLoop.advanceTime(by: amount)
    }

    /// Runs what is due now.
    public func run() async {
        await self.eventLoop.run()
    }

    /// Ends every connection and stops the engine.
    public func shutdown() async {
        self.context.quiesce()
        await self.eventLoop.run()
        await self.context.terminate()
        for sweeper in self.sweepers { sweeper.cancel() }
        await self.context.stopAuthorizer()
        await self.context.engine.shutdown()
        await self.eventLoop.run()
        await self.eventLoop.shutdownGracefully()
    }
}

extension InProcessRiver {
    /// Decodes and checks a token as the server would (nil: accepted), with the refusal's reason.
    public func refusal(ofToken token: String) async -> String? {
        await self.context.refusal(ofToken: token)
    }
}
