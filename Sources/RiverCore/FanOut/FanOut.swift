import NIOCore

/// The hubs of all event loops, addressable by index: how engines reach the
/// subscribers of every loop with one hop per loop.
public final class FanOut: Sendable {
    public let hubs: [NIOLoopBoundBox<LoopHub>]

    /// One hub per event loop of `group`, compressing at `compressionLevel` (zlib's, 1–9).
    public init(group: EventLoopGroup, compressionLevel: Int = PerMessageDeflater.defaultLevel) {
        var hubs: [NIOLoopBoundBox<LoopHub>] = []
        for (index, loop) in group.makeIterator().enumerated() {
            let hub = LoopHub(eventLoop: loop, index: index, compressionLevel: compressionLevel)
            hubs.append(.makeBoxSendingValue(hub, eventLoop: loop))
        }
        self.hubs = hubs
    }

    public var count: Int { self.hubs.count }

    /// The hub of the loop the caller runs on.
    public func localHub(on loop: EventLoop) -> LoopHub {
        for box in self.hubs where box.eventLoop === loop {
            return box.value
        }
        preconditionFailure("event loop \(loop) has no hub")
    }

    /// Sends a batch to hub `index` (runs inline when already on its loop).
    public func send(_ batch: DeliveryBatch, toHub index: Int) {
        let box = self.hubs[index]
        if box.eventLoop.inEventLoop {
            box.value.deliver(batch)
        } else {
            box.eventLoop.execute { box.value.deliver(batch) }
        }
    }

    /// Hands a presence event to hub `index` (inline when already on its loop).
    public func send(_ event: PresenceEvent, toHub index: Int) {
        let box = self.hubs[index]
        if box.eventLoop.inEventLoop {
            box.value.deliver(event)
        } else {
            box.eventLoop.execute { box.value.deliver(event) }
        }
    }

    /// Ends every subscription to a channel on hub `index`.
    public func finish(channel: ChannelName, reason: FinishReason, onHub index: Int) {
        let box = self.hubs[index]
        box.eventLoop.execute { box.value.finish(channel: channel, reason: reason) }
    }
}
