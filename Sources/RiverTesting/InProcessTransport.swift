import NIOCore
import NIOEmbedded

/// A connection to an `InProcessRiver`: bytes go through the real handlers
/// of a `NIOAsyncTestingChannel`; the test loop runs what is due after each step.
final class InProcessTransport: TestTransport {
    let channel: NIOAsyncTestingChannel
    private let river: InProcessRiver

    init(channel: NIOAsyncTestingChannel, river: InProcessRiver) {
        self.channel = channel
        self.river = river
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.channel.writeInbound(ByteBuffer(bytes: bytes))
        await self.river.run()
    }

    func receive(timeout: Duration) async throws -> [UInt8]? {
        // Work finished off the loop (a token check through Swift concurrency)
        // lands on the loop in real time: look again until the deadline.
        let deadline = ContinuousClock.now + timeout
        while true {
            let bytes = try await self.receiveNow()
            if !bytes.isEmpty { return bytes }
            if !self.channel.isActive {
                // Work landing from off the loop may have written, then closed, since the look
                // above: what it wrote is read before the close is reported.
                let last = try await self.receiveNow()
                return last.isEmpty ? nil : last
            }
            if ContinuousClock.now >= deadline { throw TimedOut("read timed out after \(timeout)") }
            try await Task.sleep(for: .milliseconds(1))  // (pacing between looks; the deadline bounds it)
        }
    }

    func receiveNow() async throws -> [UInt8] {
        await self.river.run()
        var bytes: [UInt8] = []
        while let buffer = try await self.channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    func isClosedByServer() async -> Bool {
        await self.river.run()
        return !self.channel.isActive
    }

    func stopReading() async {
        self.channel.isWritable = false
        self.channel.pipeline.fireChannelWritabilityChanged()
        await self.river.run()
    }

    func resumeReading() async {
        self.channel.isWritable = true
        self.channel.pipeline.fireChannelWritabilityChanged()
        await self.river.run()
    }

    func close() async {
        if self.channel.isActive { try? await self.channel.close() }
        await self.river.run()
    }
}
