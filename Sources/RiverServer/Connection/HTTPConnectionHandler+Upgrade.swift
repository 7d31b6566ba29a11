import NIOCore
import NIOWebSocket

/// The WebSocket handshake: answer 101, then hand the connection — its
/// `max_connections` slot and the bytes already read — to a
/// `WebSocketConnectionHandler` behind NIOWebSocket's frame decoder, a
/// `WebSocketFrameChecker` and NIOWebSocket's fragment aggregator.
extension HTTPConnectionHandler {
    func upgradeToWebSocket(_ upgrade: WebSocketUpgrade, context: ChannelHandlerContext) {
        switch self.machine.upgrading() {
        case .handOver: break
        }
        var headers = upgrade.headers
        if let deflate = upgrade.deflate { headers.append(("Sec-WebSocket-Extensions", deflate.response)) }
        let response = WebSocketHandshake.response(
            key: upgrade.key,
            extraHeaders: headers,
            allocator: context.channel.allocator
        )
        context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        self.pendingFlush.flushed()
        let pending = self.parser?.takeBufferedBytes()
        self.parser = nil
        // The connection's place under max_connections goes with it; a WebSocket on an HTTP/2
        // stream (RFC 8441) has none of its own: its connection holds it.
        let slot = self.slot.take()
        guard slot != nil || self.isHTTP2Stream else {
            context.close(promise: nil)
            return
        }
        do {
            // A command's frame may carry a message of max_message_size in JSON (escaped, or base64).
            var maxMessageSize = self.server.configuration.maxMessageSize
            if case .commands = upgrade.mode { maxMessageSize = 3 * maxMessageSize + 4096 }
            let checker = WebSocketFrameChecker(compressionNegotiated: upgrade.deflate != nil)
            let handler = WebSocketConnectionHandler(
                upgrade,
                checker: checker,
                slot: slot,
                server: self.server,
                loop: self.loop
            )
            try context.pipeline.syncOperations.addHandlers(
                [
                    ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxMessageSize)),
                    checker,
                    NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 0,
                        maxAccumulatedFrameCount: WebSocketFrameChecker.maxFragments,
                        maxAccumulatedFrameSize: maxMessageSize
                    ),
                    handler,
                ],
                position: .after(self)
            )
            if let pending, pending.readableBytes > 0 {
                context.fireChannelRead(NIOAny(pending))
            }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
        }
    }
}
