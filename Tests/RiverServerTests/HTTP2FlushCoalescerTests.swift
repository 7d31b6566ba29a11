import NIOCore
import NIOEmbedded
import Testing

@testable import RiverServer

/// What reaches the socket below `NIOHTTP2Handler`: one flush per tick, small writes copied
/// into one buffer in their order, larger ones as they are, nothing lost at a close.
@Suite struct HTTP2FlushCoalescerTests {
    final class Ticks {
        var asked = 0
    }

    func coalescing() throws -> (HTTP2FlushCoalescer, EmbeddedChannel, Ticks) {
        let coalescer = HTTP2FlushCoalescer()
        let ticks = Ticks()
        coalescer.flushAtEndOfTick = { ticks.asked += 1 }
        return (coalescer, EmbeddedChannel(handler: coalescer), ticks)
    }

    func written(_ channel: EmbeddedChannel) throws -> [String] {
        var writes: [String] = []
        while let data = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = data else { continue }
            writes.append(String(buffer: buffer))
        }
        return writes
    }

    @Test func smallWritesGoAsOneInOrderAndLargeOnesAsTheyAre() throws {
        let (coalescer, channel, ticks) = try self.coalescing()
        let large = String(repeating: "m", count: HTTP2FlushCoalescer.copiedWriteLimit + 1)
        for piece in ["head-1|", "data-1|", large, "head-2|"] {
            channel.write(IOData.byteBuffer(ByteBuffer(string: piece)), promise: nil)
            channel.flush()
        }
        #expect(ticks.asked == 1, "one flush asked for, at the tick's end")
        #expect(try self.written(channel).isEmpty, "nothing goes before the tick's end")
        coalescer.flushNow()
        #expect(try self.written(channel) == ["head-1|data-1|", large, "head-2|"])
        // A header alone before its message goes on as it is: the same buffer, not a copy.
        let header = ByteBuffer(string: "head-3|")
        channel.write(IOData.byteBuffer(header), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: large)), promise: nil)
        channel.flush()
        coalescer.flushNow()
        guard case .byteBuffer(let alone) = try channel.readOutbound(as: IOData.self) else {
            Issue.record("no header written")
            return
        }
        let sameBytes = alone.withUnsafeReadableBytes { a in
            header.withUnsafeReadableBytes { a.baseAddress == $0.baseAddress }
        }
        #expect(alone == header && sameBytes)
        #expect(try self.written(channel) == [large])
        channel.write(IOData.byteBuffer(ByteBuffer(string: "next tick")), promise: nil)
        channel.flush()
        #expect(ticks.asked == 3)
        coalescer.flushNow()
        #expect(try self.written(channel) == ["next tick"])
    }

    @Test func aWriteWithAPromiseIsHandedOnWithWhatCameBefore() throws {
        let (coalescer, channel, _) = try self.coalescing()
        channel.write(IOData.byteBuffer(ByteBuffer(string: "a|")), promise: nil)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "b|")), promise: promise)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "c|")), promise: nil)
        channel.flush()
        coalescer.flushNow()
        #expect(try self.written(channel) == ["a|b|", "c|"])
        try promise.futureResult.wait()
    }

    @Test func aCloseSendsWhatWasWrittenBeforeIt() throws {
        let (_, channel, _) = try self.coalescing()
        channel.write(IOData.byteBuffer(ByteBuffer(string: "GOAWAY")), promise: nil)
        channel.flush()
        try channel.close().wait()
        #expect(try self.written(channel) == ["GOAWAY"])
    }
}
