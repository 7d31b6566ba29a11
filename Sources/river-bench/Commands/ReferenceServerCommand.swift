import ArgumentParser
import NIOCore
import NIOPosix

/// `river-bench reference-server`: the floor under River's memory per
/// connection. A bare SwiftNIO server — one handler that answers a request
/// head and holds the connection — measured with `idle` exactly as River is,
/// so River's own share is the difference.
struct ReferenceServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference-server",
        abstract: "A bare SwiftNIO server that answers a request head and holds the connection (idle's floor)."
    )
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 9273
    @Option(
        help: """
            Receive buffers: default (NIO's adaptive allocator), fixed256 (a fixed 256-byte one), \
            or river (adaptive from 256 bytes, as River configures it).
            """
    )
    var allocator = "default"

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        switch self.allocator {
        case "default":
            break
        case "fixed256":
            bootstrap = bootstrap.childChannelOption(
                .recvAllocator,
                value: FixedSizeRecvByteBufferAllocator(capacity: 256)
            )
        case "river":
            bootstrap = bootstrap.childChannelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)
            )
        default:
            throw ValidationError("--allocator must be default, fixed256 or river")
        }
        let channel = try await bootstrap.childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HeadAnsweringHandler())
            }
        }.bind(host: self.host, port: self.port).get()
        print("reference server listening on \(self.host):\(self.port) (allocator \(self.allocator))")
        try await channel.closeFuture.get()
    }
}

/// Answers the first request head with the start of a chunked response, then
/// holds the connection and ignores what follows.
final class HeadAnsweringHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let answer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    /// How much of the blank line ending the head has been seen (CR LF CR LF).
    private var matched = 0
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.answered else { return }
        for byte in self.unwrapInboundIn(data).readableBytesView {
            let expected: UInt8 = self.matched % 2 == 0 ? 13 : 10
            self.matched = byte == expected ? self.matched + 1 : (byte == 13 ? 1 : 0)
            if self.matched == 4 {
                self.answered = true
                context.writeAndFlush(self.wrapOutboundOut(Self.answer), promise: nil)
                return
            }
        }
    }
}
