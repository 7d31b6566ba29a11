import Benchmark
import NIOCore
import NIOEmbedded
import NIOHTTP1
import RiverServer

/// Allocations and time to parse 1,000 pipelined publish requests (the
/// headers river-bench and wrk send, a 32-byte body): River's own parser
/// against NIOHTTP1's `HTTPRequestDecoder` (llhttp) in an `EmbeddedChannel`.
/// One of the measurements behind docs/HTTPParsing.md.
let benchmarks: @Sendable () -> Void = {
    let requests = Requests.pipelined(count: 1000)
    Benchmark(
        "1000 requests, River's parser",
        configuration: .init(metrics: [.mallocCountTotal, .wallClock], maxDuration: .seconds(3), maxIterations: 1000)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let parser = HTTPRequestParser(limits: .init())
            parser.append(requests)
            var parsed = 0
            while case .request(let request) = try parser.next() {
                parsed += 1
                blackHole(request)
            }
            precondition(parsed == 1000)
        }
    }
    Benchmark(
        "1000 requests, NIOHTTP1 (llhttp)",
        configuration: .init(metrics: [.mallocCountTotal, .wallClock], maxDuration: .seconds(3), maxIterations: 1000)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let counter = RequestCounter()
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(HTTPRequestDecoder()), counter])
            try channel.writeInbound(requests)
            precondition(counter.requests == 1000)
            _ = try channel.finish()
        }
    }
}

enum Requests {
    static func pipelined(count: Int) -> ByteBuffer {
        let body = String(repeating: "x", count: 32)
        let one =
            "POST /publish?name=bench-channel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return ByteBuffer(string: String(repeating: one, count: count))
    }
}

/// Counts complete requests (their `.end` parts), keeping each part alive as a handler would.
final class RequestCounter: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    var requests = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        blackHole(part)
        if case .end = part { self.requests += 1 }
    }
}
