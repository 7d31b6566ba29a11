import NIOCore

/// One channel's subscribers on one event loop, and the messages not yet
/// written to all of them. A subscriber keeps it (`LoopHub.add`) to share its
/// name and, when it carries several channels, to take every channel's
/// pending messages whenever one of them is visited: one write for all.
///
/// Delivery happens in rounds: a round visits every member once and offers
/// each the pending messages it has not seen, so a member visited later in a
/// round also gets what arrived meanwhile, in the same write. Members
/// `0..<position` have been visited in the current round; removal keeps that
/// partition, so no member is skipped.
public final class LocalChannel {
    enum State {
        /// No round in progress.
        case idle
        /// A round starts at a deadline (the gap after the previous round).
        case waiting
        /// A round is in progress; it completes what was pending up to `upTo`.
        case running(position: Int, upTo: UInt64)
    }

    public let name: ChannelName
    unowned let hub: LoopHub
    var members: ContiguousArray<Subscriber> = []
    /// Messages not yet written to every member, in seq order.
    private(set) var pending: [EncodedMessage] = []
    /// The newest seq ever pending: a member whose `deliveredSeq` is at least
    /// this has nothing to take (one load, where `pending` costs retains).
    public private(set) var newestSeq: UInt64 = 0
    var state = State.idle
    var roundStartedAt = NIODeadline.uptimeNanoseconds(0)
    /// The earliest start of the next round (see `LoopHub.finishRound`).
    var nextRoundAt = NIODeadline.uptimeNanoseconds(0)
    /// Messages arriving while a round runs, smoothed: the arrival rate times
    /// the round's duration. Pauses between rounds do not change it.
    private var arrivalsPerRound = 0.0

    /// Above this many arrivals per round, rounds are spaced so each carries more.
    static let overloadThreshold = 1.5

    var isOverloaded: Bool { self.arrivalsPerRound >= Self.overloadThreshold }

    /// Records how many messages arrived during the round that just ended.
    func noteArrivalsDuringRound(_ count: Int) {
        self.arrivalsPerRound = 0.8 * self.arrivalsPerRound + 0.2 * Double(count)
    }

    init(name: ChannelName, hub: LoopHub) {
        self.name = name
        self.hub = hub
    }

    var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    func add(_ subscriber: Subscriber) {
        subscriber.hubSlot = self.members.count
        self.members.append(subscriber)
    }

    /// Removes a member, keeping visited members before `position` and unvisited after.
    func remove(_ subscriber: Subscriber) -> Bool {
        let slot = subscriber.hubSlot
        guard slot >= 0, slot < self.members.count, self.members[slot] === subscriber else { return false }
        if case .running(let position, let upTo) = self.state, slot < position {
            // Fill the hole with the last visited member, and its place with the last member.
            self.move(from: position - 1, to: slot)
            self.move(from: self.members.count - 1, to: position - 1)
            self.state = .running(position: position - 1, upTo: upTo)
        } else {
            self.move(from: self.members.count - 1, to: slot)
        }
        self.members.removeLast()
        subscriber.hubSlot = -1
        return true
    }

    private func move(from source: Int, to destination: Int) {
        guard source != destination else { return }
        let member = self.members[source]
        self.members[destination] = member
        member.hubSlot = destination
    }

    /// Queues a message for the members (seqs only grow).
    func append(_ message: EncodedMessage) {
        self.pending.append(message)
        self.newestSeq = max(self.newestSeq, message.seq)
    }

    /// The pending messages newer than `seq` (binary search: pending is in seq order).
    public func pending(after seq: UInt64) -> ArraySlice<EncodedMessage> {
        guard self.newestSeq > seq else { return [] }
        var low = 0
        var high = self.pending.count
        while low < high {
            let middle = (low + high) / 2
            if self.pending[middle].seq <= seq { low = middle + 1 } else { high = middle }
        }
        return self.pending[low...]
    }

    /// Drops the messages every member has now received.
    func dropDelivered(upTo seq: UInt64) {
        var count = 0
        while count < self.pending.count && self.pending[count].seq <= seq { count += 1 }
        self.pending.removeFirst(count)
    }
}

extension LocalChannel: NIOScheduledCallbackHandler {
    /// The gap after the previous round is over: start the next one.
    public func handleScheduledCallback(eventLoop: some EventLoop) {
        self.state = .idle
        self.hub.startRound(self, hasWaited: true)
        self.hub.runSlice()
    }
}

@available(*, unavailable)
extension LocalChannel: Sendable {}
