import NIOCore

/// One per event loop: which local subscribers listen to which channel.
///
/// Engines hand it a `DeliveryBatch` in one hop; it encodes each message once
/// (lazily, per wire format) and offers the whole batch to every subscriber of
/// the channel, so each subscriber does its writes and a single flush.
/// Confined to its event loop.
public final class LoopHub {
    public let eventLoop: EventLoop
    /// The hub's position in its `FanOut`, which engines use to address it.
    public let index: Int
    private var channels: [ChannelName: LocalSubscribers] = [:]
    private let allocator = ByteBufferAllocator()
    /// Everything delivered from this loop so far.
    public private(set) var delivered = DeliveryCount()
    /// Subscribers currently registered on this loop.
    public private(set) var subscriberCount = 0

    public init(eventLoop: EventLoop, index: Int) {
        self.eventLoop = eventLoop
        self.index = index
    }

    /// Registers a subscriber; from now on it receives the channel's live batches.
    public func add(_ subscriber: Subscriber, to channel: ChannelName) {
        let list: LocalSubscribers
        if let existing = self.channels[channel] {
            list = existing
        } else {
            list = LocalSubscribers()
            self.channels[channel] = list
        }
        subscriber.hubSlot = list.members.count
        list.members.append(subscriber)
        self.subscriberCount += 1
    }

    /// Unregisters a subscriber (a no-op when it is not registered).
    public func remove(_ subscriber: Subscriber, from channel: ChannelName) {
        guard let list = self.channels[channel] else { return }
        let slot = subscriber.hubSlot
        guard slot >= 0, slot < list.members.count, list.members[slot] === subscriber else { return }
        let last = list.members.removeLast()
        if slot < list.members.count {
            list.members[slot] = last
            last.hubSlot = slot
        }
        subscriber.hubSlot = -1
        self.subscriberCount -= 1
        if list.members.isEmpty {
            self.channels[channel] = nil
        }
    }

    /// The number of local subscribers of a channel.
    public func subscriberCount(of channel: ChannelName) -> Int {
        self.channels[channel]?.members.count ?? 0
    }

    /// Delivers a batch: per channel, encode once, then each subscriber writes and flushes once.
    public func deliver(_ batch: DeliveryBatch) {
        for entry in batch.entries {
            // A snapshot: a failed write may close a connection, which removes
            // its subscriber from the live list while we iterate.
            guard let members = self.channels[entry.channel]?.members else { continue }
            let encoded = entry.messages.map { EncodedMessage($0, allocator: self.allocator) }
            for subscriber in members {
                let count = subscriber.deliver(encoded)
                self.delivered.messages &+= count.messages
                self.delivered.bytes &+= count.bytes
            }
        }
    }

    /// Ends every local subscription to a channel.
    public func finish(channel: ChannelName, reason: FinishReason) {
        guard let members = self.channels[channel]?.members else { return }
        for subscriber in members {
            subscriber.finish(reason)
        }
    }

    /// Ends every local subscription (shutdown).
    public func finishAll(reason: FinishReason) {
        let lists = Array(self.channels.values)
        for list in lists {
            for subscriber in list.members {
                subscriber.finish(reason)
            }
        }
    }
}

/// The subscribers of one channel on one loop; a class so the dictionary
/// entry is updated in place.
final class LocalSubscribers {
    var members: ContiguousArray<Subscriber> = []
}

@available(*, unavailable)
extension LoopHub: Sendable {}

@available(*, unavailable)
extension LocalSubscribers: Sendable {}
