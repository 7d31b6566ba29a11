import NIOCore
import NIOHTTP2

/// HTTP/2 connections: swift-nio-http2 frames the connection, a publish is
/// answered by the connection's handler, and every other stream gets its own
/// `HTTP2StreamBridge` and `HTTPConnectionHandler`, so every route is served
/// on a stream as on an HTTP/1.1 connection.
extension ServerContext {
    /// Resets (RST_STREAM from the peer) a connection may send per window before
    /// it is closed with GOAWAY (ENHANCE_YOUR_CALM): the rapid-reset attack
    /// (CVE-2023-44487) opens and cancels streams faster than they are served.
    static let http2ResetLimit = (count: 200, window: TimeAmount.seconds(30))

    /// The settings River's HTTP/2 connections announce and the limits they keep.
    func http2Configuration() -> NIOHTTP2Handler.Configuration {
        var configuration = NIOHTTP2Handler.Configuration()
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: self.configuration.maxConcurrentStreams),
            // Request headers are small: River's own HTTP/1.1 parser's limit applies on each stream too.
            HTTP2Setting(parameter: .maxHeaderListSize, value: self.parserLimits.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 65535),
            // RFC 8441: WebSockets on streams. Every WebSocket route (Part A and river.v2, both at
            // /websocket) is served through the bridge, so the extended CONNECT is announced.
            HTTP2Setting(parameter: .enableConnectProtocol, value: 1),
        ]
        // River checks the peer's header blocks itself, in one pass over their bytes
        // (`HTTP2FieldValidation`): swift-nio-http2's check cost a publish 10 to 14 %.
        configuration.connection.headerBlockValidation = .disabled
        // What each stream may have written but not yet sent (its flow-control
        // window exhausted) before it turns unwritable and its subscriber waits.
        configuration.stream.outboundBufferSizeHighWatermark = 64 * 1024
        configuration.stream.outboundBufferSizeLowWatermark = 32 * 1024
        configuration.stream.streamResetFrameRateLimit.maximumCount = Self.http2ResetLimit.count
        configuration.stream.streamResetFrameRateLimit.windowLength = Self.http2ResetLimit.window
        return configuration
    }

    /// The HTTP/2 handlers on `channel`, its connection holding `slot`.
    func serveHTTP2(
        _ channel: Channel,
        listener: ListenerRole,
        loop: ServerLoop,
        slot: consuming ConnectionSlot?
    ) throws {
        let configuration = self.http2Configuration()
        let streamLoop = NIOLoopBound(loop, eventLoop: channel.eventLoop)
        let connection = HTTP2ConnectionHandler(server: self, listener: listener, loop: loop, slot: slot)
        let streamConnection = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        let http2 = NIOHTTP2Handler(
            mode: .server,
            connectionConfiguration: configuration.connection,
            streamConfiguration: configuration.stream
        )
        // The multiplexer after the connection handler, which answers publishes itself (no stream channel).
        let multiplexer = HTTP2StreamMultiplexer(
            mode: .server,
            channel: channel,
            targetWindowSize: configuration.stream.targetWindowSize,
            outboundBufferSizeHighWatermark: configuration.stream.outboundBufferSizeHighWatermark,
            outboundBufferSizeLowWatermark: configuration.stream.outboundBufferSizeLowWatermark
        ) { stream in
            let loop = streamLoop.value
            streamConnection.value.streamOpened(stream)
            do {
                let bridge = HTTP2StreamBridge()
                loop.lifetimeObserver?.track(bridge)
                try stream.pipeline.syncOperations.addHandler(bridge)
                try stream.pipeline.syncOperations.addHandler(
                    HTTPConnectionHandler(server: self, loop: loop, listener: listener, slot: nil, isHTTP2Stream: true)
                )
                return stream.eventLoop.makeSucceededVoidFuture()
            } catch {
                return stream.eventLoop.makeFailedFuture(error)
            }
        }
        let coalescer = HTTP2FlushCoalescer()
        connection.coalescer = coalescer
        try channel.pipeline.syncOperations.addHandler(coalescer)
        try channel.pipeline.syncOperations.addHandler(http2)
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.pipeline.syncOperations.addHandler(multiplexer)
    }
}
