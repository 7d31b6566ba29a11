import Logging
import NIOCore
import NIOEmbedded
import RiverServer

/// A River whose only event loop is an `EmbeddedEventLoop`, with the memory
/// engine: each connection is an `EmbeddedChannel` carrying the real
/// connection handler, driven byte by byte by the caller on the thread that
/// made the server. For the fuzzer (`RiverFuzzing.DispatchCheck`) and for
/// handler tests on exact bytes; async tests use `TestRiver` instead.
public final class EmbeddedServer {
    public let eventLoop: EmbeddedEventLoop
    let context: ServerContext
    private let sweepers: [RepeatedTask]

    /// A server with `configuration`, which must not use tokens (registering a token key is asynchronous).
    public init(_ configuration: RiverConfiguration) throws {
        let eventLoop = EmbeddedEventLoop()
        self.eventLoop = eventLoop
        self.context = try ServerContext.makeOnCurrentLoop(
            configuration: configuration,
            eventLoop: eventLoop,
            logger: Logger(label: "river-embedded")
        )
        self.sweepers = self.context.startSweepers()
    }

    /// The limits its connections parse requests with.
    public var parserLimits: HTTPRequestParser.Limits { self.context.parserLimits }

    /// A new connection from `peer` (a loopback client by default), active and ready for bytes.
    public func connect(from peer: SocketAddress? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: self.eventLoop)
        try self.context.accept(channel, listener: .all)
        try channel.connect(to: peer ?? SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    /// Moves the server's clock forward (sweeps, timeouts, heartbeats, history expiry) and runs what is due.
    public func advance(by amount: TimeAmount) {
        self.eventLoop.advanceTime(by: amount)
    }

    /// Decodes and checks a token as the server would (nil: accepted), with the refusal's reason.
    public func refusal(ofToken token: String) async -> String? {
        await self.context.refusal(ofToken: token)
    }
}
