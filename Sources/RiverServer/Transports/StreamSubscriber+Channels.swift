import NIOCore
import RiverCore

/// What a `river.v2` subscribe command waits for: its acknowledgement, built
/// from the engine's answer and written before anything of the channel, or
/// the failure to report.
struct ChannelAddition {
    /// The `ok` to write first (the start of the stream names its seq and epoch).
    let acknowledgement: (CatchUp) -> ByteBuffer
    let failed: (String) -> Void
}

/// Channels added to and removed from a running stream (`river.v2`
/// subscribe and unsubscribe commands): the stream's other channels go on.
extension StreamSubscriber {
    /// The subscription of `channel`, if the stream carries it.
    func subscription(of channel: ChannelName) -> ChannelSubscription? {
        self.channels.first { $0.channel == channel }
    }

    var channelCount: Int { self.channels.count }

    /// Adds a channel: once the engine answers, its acknowledgement, notices and
    /// catch-up are written (behind what waits), then its live messages. False
    /// when the stream has ended.
    @discardableResult
    func add(_ start: ChannelStart, _ addition: ChannelAddition) -> Bool {
        guard self.machine.addingChannel() else { return false }
        let subscription = ChannelSubscription(start, stream: self)
        self.channels.append(subscription)
        self.cursorMoved()
        self.pendingAdditions[ObjectIdentifier(subscription)] = addition
        self.subscribe(subscription, from: start)
        return true
    }

    /// Removes a channel: it leaves the hub and the engine at once, and
    /// nothing of it waiting to be written goes out. False when it was not carried.
    @discardableResult
    func remove(_ channel: ChannelName) -> Bool {
        guard let subscription = self.subscription(of: channel) else { return false }
        return self.drop(subscription)
    }

    /// Leaves one channel; what waits of it is dropped.
    @discardableResult
    func drop(_ subscription: ChannelSubscription) -> Bool {
        guard let index = self.channels.firstIndex(where: { $0 === subscription }) else { return false }
        self.channels.remove(at: index)
        self.cursorMoved()
        self.pendingAdditions[ObjectIdentifier(subscription)] = nil
        subscription.leave(self.loop)
        if let backlog = self.backlog {
            backlog.segments.removeAll { segment in
                switch segment {
                case .bytes: return false
                case .catchUp(let owner, _): return owner === subscription
                case .live(let owner, let message):
                    guard owner === subscription else { return false }
                    backlog.waitingBytes -= Self.estimatedSize(of: message)
                    return true
                }
            }
            if backlog.segments.isEmpty { self.backlog = nil }
        }
        return true
    }

    /// A channel added to the running stream is in place: its acknowledgement
    /// and notices, then its catch-up, behind whatever waits.
    func writeAddition(_ subscription: ChannelSubscription, _ catchUp: CatchUp, acknowledgement: ByteBuffer?) {
        guard let output = self.output else { return }
        self.count(catchUp)
        var framed: [ByteBuffer] = []
        if let acknowledgement { framed.append(acknowledgement) }
        for notice in catchUp.notices {
            framed.append(self.framing.framed(notice, channel: subscription.channel, allocator: output.allocator))
        }
        if self.backlog == nil && output.isWritable {
            for bytes in framed { output.write(bytes) }
            if !catchUp.messages.isEmpty {
                let backlog = Backlog()
                backlog.segments.append(.catchUp(subscription, catchUp.messages[...]))
                self.backlog = backlog
            }
        } else {
            let backlog = self.backlog ?? Backlog()
            self.backlog = backlog
            for bytes in framed { backlog.segments.append(.bytes(bytes)) }
            if !catchUp.messages.isEmpty { backlog.segments.append(.catchUp(subscription, catchUp.messages[...])) }
        }
        self.writeWhileWritable()
    }

    /// Counts what a channel's start replays and the notices it gets (`/stats`, the dashboard).
    func count(_ catchUp: CatchUp) {
        if !catchUp.messages.isEmpty { self.loop.counters.catchUps += 1 }
        for notice in catchUp.notices {
            switch notice {
            case .lost: self.loop.counters.lostNotices += 1
            case .reset: self.loop.counters.resetNotices += 1
            default: break
            }
        }
    }
}
