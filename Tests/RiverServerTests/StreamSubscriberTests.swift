import Logging
import NIOCore
import NIOEmbedded
import RiverCore
import Testing

@testable import RiverServer

/// `StreamSubscriber` on its own: the real subscriber, engine and hub on an
/// embedded loop, writing to a recording output instead of a connection.
/// Each test drives one path of its state machine end to end.
@Suite struct StreamSubscriberTests {
    /// An output that records what the subscriber does to it. Like a
    /// connection, it holds its subscriber until the stream ends.
    final class RecordingOutput: StreamOutput {
        let allocator = ByteBufferAllocator()
        var subscriber: StreamSubscriber?
        var isWritable = true
        var written = ""
        var flushes = 0
        var starts = 0
        var ends: [StreamEnd] = []
        var channelsEnded: [(ChannelName, FinishReason)] = []
        var cuts: [(CutReason, String)] = []

        func write(_ bytes: ByteBuffer) { self.written += String(buffer: bytes) }
        func flush() { self.flushes += 1 }
        func flushSoon() { self.flushes += 1 }
        func streamWillStart() { self.starts += 1 }
        func streamDidEnd(_ end: StreamEnd) {
            self.ends.append(end)
            self.subscriber = nil
        }
        func channelEnded(_ channel: ChannelName, reason: FinishReason) {
            self.channelsEnded.append((channel, reason))
        }
        func recordCut(_ reason: CutReason, transport: String, detail: String) {
            self.cuts.append((reason, transport))
        }
    }

    /// The server's one loop with the memory engine, driven by hand.
    struct Harness {
        let eventLoop = EmbeddedEventLoop()
        let context: ServerContext
        var loop: ServerLoop { self.context.loops[0].value }

        init(maxSubscriberBacklog: Int = 1 << 20) throws {
            var configuration = RiverConfiguration()
            configuration.maxSubscriberBacklog = maxSubscriberBacklog
            self.context = try ServerContext.makeOnCurrentLoop(
                configuration: configuration,
                eventLoop: self.eventLoop,
                logger: Logger(label: "stream-subscriber-tests")
            )
        }

        func channel(_ name: String) throws -> ChannelName {
            try ChannelName(validating: name, maxBytes: 256)
        }

        func publish(_ payload: String, to channel: String) throws {
            _ = self.context.engine.publish(
                ByteBuffer(string: payload),
                to: try self.channel(channel),
                on: self.eventLoop
            )
            self.eventLoop.run()
        }

        /// A subscriber writing `framing` to `output`, started on `channels` from `seq` (nil: live only).
        func start(
            _ channels: [String],
            from seq: UInt64? = nil,
            framing: StreamFraming = .raw(chunked: false),
            longPoll: Bool = false,
            writingTo output: RecordingOutput
        ) throws -> StreamSubscriber {
            let subscriber = StreamSubscriber(framing: framing, endsAfterFirstBatch: longPoll, loop: self.loop)
            let starts = try channels.map { ChannelStart(try self.channel($0), ResumePoint(seq: seq)) }
            output.subscriber = subscriber
            subscriber.start(starts, writingTo: output)
            self.eventLoop.run()
            return subscriber
        }
    }

    @Test func theCatchUpComesFirstThenLiveMessagesInOrder() throws {
        let harness = try Harness()
        try harness.publish("a", to: "news")
        try harness.publish("b", to: "news")
        let output = RecordingOutput()
        let subscriber = try harness.start(["news"], from: 0, writingTo: output)
        #expect(output.starts == 1)
        #expect(output.written == "ab")
        try harness.publish("c", to: "news")
        #expect(output.written == "abc")
        #expect(output.flushes > 0)
        #expect(subscriber.machine.state == .live)
        #expect(output.ends.isEmpty)
    }

    @Test func aBusyOutputKeepsMessagesUntilItDrains() throws {
        let harness = try Harness()
        let output = RecordingOutput()
        let subscriber = try harness.start(["a", "b"], writingTo: output)
        output.isWritable = false
        try harness.publish("1", to: "a")
        try harness.publish("2", to: "b")
        try harness.publish("3", to: "a")
        #expect(output.written == "")
        output.isWritable = true
        subscriber.outputBecameWritable()
        #expect(output.written == "123")
        try harness.publish("4", to: "b")
        #expect(output.written == "1234")
    }

    @Test func aReaderFallingPastTheBacklogLimitIsCutAndLeaves() throws {
        let harness = try Harness(maxSubscriberBacklog: 4096)
        let output = RecordingOutput()
        weak var weakSubscriber: StreamSubscriber?
        do {
            let subscriber = try harness.start(["news"], writingTo: output)
            weakSubscriber = subscriber
            output.isWritable = false
            for _ in 0..<8 {
                try harness.publish(String(repeating: "x", count: 1024), to: "news")
            }
        }
        #expect(output.ends == [.cut])
        #expect(harness.loop.counters.slowConsumersCut == 1)
        #expect(output.cuts.map(\.0) == [.slowConsumer] && output.cuts.map(\.1) == ["stream"])
        #expect(output.written == "")
        harness.eventLoop.run()
        #expect(weakSubscriber == nil, "the hub or the engine still holds a cut subscriber")
    }

    @Test func aLongPollIsAnsweredByItsFirstMessage() throws {
        let harness = try Harness()
        let output = RecordingOutput()
        _ = try harness.start(["news"], longPoll: true, writingTo: output)
        #expect(output.written == "")
        try harness.publish("first", to: "news")
        try harness.publish("second", to: "news")
        #expect(output.written == "first")
        #expect(output.ends == [.completed(reusable: false)])
    }

    @Test func aLongPollWithACatchUpIsAnsweredByIt() throws {
        let harness = try Harness()
        try harness.publish("old", to: "news")
        let output = RecordingOutput()
        _ = try harness.start(["news"], from: 0, framing: .raw(chunked: true), longPoll: true, writingTo: output)
        #expect(output.written == "3\r\nold\r\n0\r\n\r\n")
        #expect(output.ends == [.completed(reusable: true)])
    }

    @Test func aDeletedChannelEndsTheStreamOrOnlyItsChannel() throws {
        let harness = try Harness()
        let whole = RecordingOutput()
        _ = try harness.start(["news"], framing: .raw(chunked: true), writingTo: whole)
        let alone = RecordingOutput()
        let commands = try harness.start(["news", "sport"], writingTo: alone)
        commands.endsChannelsAlone = true

        _ = harness.context.engine.delete(try harness.channel("news"), on: harness.eventLoop)
        harness.eventLoop.run()
        #expect(whole.written == "0\r\n\r\n")
        #expect(whole.ends == [.completed(reusable: false)])
        #expect(alone.ends.isEmpty)
        #expect(alone.channelsEnded.map { "\($0.0)" } == ["news"])
        #expect(alone.channelsEnded.map(\.1) == [.channelDeleted])
        try harness.publish("still", to: "sport")
        #expect(alone.written == "still")
    }

    @Test func aDetachedSubscriberWritesNothingAndIsFreed() throws {
        let harness = try Harness()
        let output = RecordingOutput()
        weak var weakSubscriber: StreamSubscriber?
        do {
            let subscriber = try harness.start(["news"], writingTo: output)
            weakSubscriber = subscriber
            subscriber.detach()
            subscriber.finish(.shutdown)
            output.subscriber = nil  // as the connection lets go of it when it closes
        }
        try harness.publish("late", to: "news")
        #expect(output.written == "")
        #expect(output.ends.isEmpty)
        #expect(weakSubscriber == nil, "the hub or the engine still holds a detached subscriber")
    }

    @Test func shuttingDownEndsALiveStreamCleanlyOnce() throws {
        let harness = try Harness()
        let output = RecordingOutput()
        let subscriber = try harness.start(["news"], framing: .raw(chunked: true), writingTo: output)
        #expect(output.starts == 1)
        subscriber.finish(.shutdown)
        subscriber.finish(.timeout)
        try harness.publish("late", to: "news")
        #expect(output.written == "0\r\n\r\n")
        #expect(output.ends == [.completed(reusable: false)])
    }
}
