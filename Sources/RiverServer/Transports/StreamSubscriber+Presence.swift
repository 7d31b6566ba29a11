import NIOCore
import RiverCore

/// Joins and leaves reach a stream like live messages do, but have no seq and are never replayed.
extension StreamSubscriber {
    /// A join or leave on `subscription`'s channel, which asked for presence:
    /// written like a live message (it waits behind what waits; it answers a
    /// long-poll), but it has no seq and is never replayed.
    func deliver(_ event: EncodedPresenceEvent, on subscription: ChannelSubscription) {
        guard let output = self.output else { return }
        switch self.machine.batchOffered(backlogIsEmpty: self.backlog == nil, isWritable: output.isWritable) {
        case .ignore:
            return
        case .write:
            output.write(self.framing.framed(event, allocator: output.allocator))
            self.lastWriteTick = UInt32(truncatingIfNeeded: self.loop.tick)
            self.flushDelivery(output)
        case .writeFirstAndEnd:
            output.write(self.framing.framed(event, allocator: output.allocator))
            self.finishStream(nil)
        case .queue:
            let backlog = self.backlog ?? Backlog()
            self.backlog = backlog
            let bytes = self.framing.framed(event, allocator: output.allocator)
            backlog.segments.append(.bytes(bytes))
            backlog.waitingBytes += bytes.readableBytes
            if backlog.waitingBytes > self.loop.configuration.maxSubscriberBacklog {
                self.finish(.slowConsumer)
            }
        }
    }
}
