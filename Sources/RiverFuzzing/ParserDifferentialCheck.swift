import NIOCore
import NIOEmbedded
import NIOHTTP1
import RiverServer

/// River's request parser against NIOHTTP1's (llhttp, in its strict mode) on
/// the same bytes: where requests are smuggled, two parsers disagree on where
/// a message ends. The property (docs/HTTPParsing.md):
///
/// - every request River accepts, NIOHTTP1 accepts too, in the same place
///   in the stream, with the same method and the same body;
/// - where NIOHTTP1 accepts a request River refuses, River refused it for one
///   of the reasons it is deliberately stricter (`deliberateStrictness`).
///
/// `disagreement` returns what was violated; the fuzzer's entry point stops the process
/// with it, and the test suite replays the corpus through it.
public enum ParserDifferentialCheck {
    /// Refusals where River is stricter than llhttp on purpose: its limits,
    /// CRLF-only line ends, `Host` exactly once, the methods it knows, one
    /// space between the parts of the request line, ASCII targets, no
    /// transfer coding but `chunked`, and none at all in HTTP/1.0 (RFC 9112
    /// section 6.1: its framing is faulty), chunk extensions by RFC 9112's
    /// grammar (llhttp takes `0;name=`, whose value is empty).
    static let deliberateStrictness = [
        "request line is longer", "header section is larger", "more than", "request body is larger",
        "chunk size is too large", "line ends with LF without CR", "ends with LF without CR",
        "HTTP/1.1 request without a Host header", "request with more than one Host header",
        "method not implemented", "only HTTP/1.0 and HTTP/1.1", "trailer section is larger",
        "malformed request line", "malformed method", "field in the trailer section", "malformed HTTP version",
        "malformed request target",
        "request target must be ASCII", "transfer coding not supported", "HTTP/1.0 request uses Transfer-Encoding",
        "malformed chunk extension",
    ]

    /// One complete request, as both parsers report it.
    struct Message: Equatable {
        let method: String
        let body: [UInt8]
        /// It asked to upgrade (any protocol): NIOHTTP1 hands what follows to the upgrade and
        /// reads no further request; River reads on when the protocol is not one it speaks.
        var asksToUpgrade = false
    }

    /// Where the two parsers disagree on `bytes` beyond River's deliberate strictness, or nil.
    public static func disagreement(_ bytes: UnsafeRawBufferPointer) -> String? {
        let river = Self.river(bytes)
        let nio = Self.nio(bytes)
        // After a request that ends HTTP on the connection (`Connection: close`,
        // HTTP/1.0 without keep-alive, an upgrade) the server reads no further request.
        if river.endsConnection && nio.messages.count > river.messages.count { return nil }
        for (index, message) in river.messages.enumerated() {
            if index > 0, index == nio.messages.count, river.messages[index - 1].asksToUpgrade { return nil }
            guard index < nio.messages.count else {
                return "River accepted request \(index + 1) (\(message.method)), NIOHTTP1 did not"
                    + " (\(nio.error ?? "it needed more bytes"))"
            }
            guard message.method == nio.messages[index].method, message.body == nio.messages[index].body else {
                return "request \(index + 1) differs: River \(message), NIOHTTP1 \(nio.messages[index])"
            }
        }
        if nio.messages.count > river.messages.count {
            let reason = river.error ?? "River needed more bytes"
            guard Self.deliberateStrictness.contains(where: { reason.contains($0) }) else {
                return "NIOHTTP1 accepted request \(river.messages.count + 1), River refused it: \(reason)"
            }
        }
        return nil
    }

    /// The requests River's parser reads from `bytes` up to the first that ends
    /// HTTP on the connection (`endsConnection`), and the reason it stopped.
    static func river(
        _ bytes: UnsafeRawBufferPointer,
        limits: HTTPRequestParser.Limits = .init()
    ) -> (messages: [Message], error: String?, endsConnection: Bool) {
        let parser = HTTPRequestParser(limits: limits)
        parser.append(ByteBuffer(bytes: bytes))
        var messages: [Message] = []
        while true {
            do {
                switch try parser.next() {
                case .request(let request):
                    messages.append(
                        Message(
                            method: request.head.method.rawValue,
                            body: Array(request.body.readableBytesView),
                            asksToUpgrade: request.head.asksToUpgrade
                        )
                    )
                    if !request.head.keepAlive || request.head.upgradesToWebSocket { return (messages, nil, true) }
                case .continueRequired:
                    continue
                case .needMoreData:
                    return (messages, nil, false)
                }
            } catch {
                return (messages, error.reason, false)
            }
        }
    }

    static func nio(_ bytes: UnsafeRawBufferPointer) -> (messages: [Message], error: String?) {
        let collector = PartCollector()
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        do {
            try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(HTTPRequestDecoder()), collector])
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            return (collector.messages, "\(error)")
        }
        return (collector.messages, collector.error)
    }

    /// Assembles NIOHTTP1's request parts into messages.
    final class PartCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        var messages: [Message] = []
        var error: String?
        private var method: String?
        private var body: [UInt8] = []

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.method = head.method.rawValue
                self.body = []
            case .body(let bytes):
                self.body += bytes.readableBytesView
            case .end:
                self.messages.append(Message(method: self.method ?? "?", body: self.body))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            if self.error == nil { self.error = "\(error)" }
        }
    }
}
