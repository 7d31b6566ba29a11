import Logging
import NIOCore
import NIOEmbedded
import RiverCore
import RiverMemoryEngine

/// A server whose only event loop is an `EmbeddedEventLoop`, with the memory
/// engine: each connection is an `EmbeddedChannel` carrying the real
/// `HTTPConnectionHandler`, driven byte by byte by the caller. For tests on
/// exact bytes and for the fuzzer (`RiverFuzzing.DispatchCheck`); no socket,
/// no thread.
package final class EmbeddedServer {
    package let eventLoop: EmbeddedEventLoop
    let context: ServerContext
    let loop: LoopContext

    private init(_ configuration: RiverConfiguration, access: AccessPolicy) throws {
        let eventLoop = EmbeddedEventLoop()
        let fanOut = FanOut(group: eventLoop)
        let engine = MemoryEngine(fanOut: fanOut, limits: configuration.history)
        let loop = LoopContext(hub: fanOut.hubs[0].value, engine: engine, configuration: configuration, lifetimeProbe: nil)
        self.eventLoop = eventLoop
        self.loop = loop
        self.context = ServerContext(
            configuration: configuration,
            engine: engine,
            fanOut: fanOut,
            loops: [NIOLoopBoundBox(loop, eventLoop: eventLoop)],
            maxConnections: 10,
            staticFiles: try StaticFiles.load(directory: configuration.publicDirectory),
            access: access,
            logger: Logger(label: "river-embedded")
        )
    }

    /// A server with `configuration`'s access control (registering a token key is asynchronous).
    package static func make(_ configuration: RiverConfiguration) async throws -> EmbeddedServer {
        try EmbeddedServer(configuration, access: await AccessPolicy.make(configuration))
    }

    /// A server with `configuration`'s access control, which must not use tokens
    /// (`make` registers a token key); built on the caller's thread.
    package convenience init(_ configuration: RiverConfiguration) throws {
        try self.init(configuration, access: AccessPolicy(withoutTokens: configuration))
    }

    /// The limits its connections parse requests with.
    package var parserLimits: HTTPRequestParser.Limits { self.context.parserLimits }

    /// A new connection from `peer` (a loopback client by default), active and ready for bytes.
    package func connect(from peer: SocketAddress? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(
            handler: HTTPConnectionHandler(server: self.context, loop: self.loop, listener: .all),
            loop: self.eventLoop
        )
        try channel.connect(to: peer ?? SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    /// Decodes and checks a token as the server would (nil: accepted), with the refusal's reason.
    package func refusal(ofToken token: String) async -> String? {
        switch await self.context.access.verify(token: token) {
        case .success: return nil
        case .failure(let error): return error.reason
        }
    }
}
