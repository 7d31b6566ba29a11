import NIOCore

/// An engine store's live messages waiting to cross to each hub: messages
/// appended during a loop tick leave together at its end, one hop per hub
/// (`FanOut.send`). Confined to the store's event loop.
public final class HubOutboxes {
    private let fanOut: FanOut
    private let eventLoop: EventLoop
    private var batches: [DeliveryBatch]
    private var flushScheduled = false

    public init(fanOut: FanOut, eventLoop: EventLoop) {
        self.fanOut = fanOut
        self.eventLoop = eventLoop
        self.batches = Array(repeating: DeliveryBatch(), count: fanOut.count)
    }

    /// Queues `message` for every hub with a subscriber count above zero.
    public func append(_ message: Message, toHubsWithSubscribers subscribersPerHub: [Int]) {
        var appended = false
        for hub in subscribersPerHub.indices where subscribersPerHub[hub] > 0 {
            self.batches[hub].append(message)
            appended = true
        }
        guard appended, !self.flushScheduled else { return }
        self.flushScheduled = true
        let outboxes = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.execute { outboxes.value.flush() }
    }

    /// Sends what is queued now (before an event that must follow it, such as ending a channel's streams).
    public func flush() {
        self.flushScheduled = false
        for hub in self.batches.indices where !self.batches[hub].isEmpty {
            let batch = self.batches[hub]
            self.batches[hub] = DeliveryBatch()
            self.fanOut.send(batch, toHub: hub)
        }
    }
}

@available(*, unavailable)
extension HubOutboxes: Sendable {}
