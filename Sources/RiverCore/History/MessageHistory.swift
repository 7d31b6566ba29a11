import DequeModule
import NIOCore

/// The retained messages of one channel: a bounded ring, oldest first.
///
/// It answers the catch-up question "what comes after `seq`?" with the
/// messages, or says explicitly which ones were lost or that the channel was
/// reset. It is a value owned by whoever owns the channel's state.
public struct MessageHistory: Sendable {
    private var messages: Deque<Message> = []
    /// Payload bytes retained (without per-message overhead).
    public private(set) var payloadBytes: Int = 0

    public init() {}

    public var count: Int { self.messages.count }
    public var isEmpty: Bool { self.messages.isEmpty }
    public var first: Message? { self.messages.first }
    public var last: Message? { self.messages.last }

    /// Appends a message; the caller guarantees seqs are consecutive.
    public mutating func append(_ message: Message) {
        self.messages.append(message)
        self.payloadBytes += message.payload.readableBytes
    }

    /// Removes and returns the oldest message.
    @discardableResult
    public mutating func removeOldest() -> Message? {
        guard let message = self.messages.popFirst() else { return nil }
        self.payloadBytes -= message.payload.readableBytes
        return message
    }

    public mutating func removeAll() {
        self.messages.removeAll()
        self.payloadBytes = 0
    }

    /// True when a message with this seq is still retained.
    public func contains(seq: UInt64) -> Bool {
        guard let first = self.messages.first, let last = self.messages.last else { return false }
        return seq >= first.seq && seq <= last.seq
    }

    /// The catch-up for a subscriber resuming at `point` on a channel whose
    /// latest seq is `currentSeq` and whose incarnation is `epoch`.
    public func catchUp(from point: ResumePoint, currentSeq: UInt64, epoch: UInt64) -> CatchUp {
        var catchUp: CatchUp
        let isReset = (point.seq ?? 0) > currentSeq || (point.epoch != nil && point.epoch != epoch && point.seq != nil)
        if isReset {
            // Everything retained is news to this subscriber.
            catchUp = self.replay(after: 0, currentSeq: currentSeq)
            catchUp.notices.insert(.reset(current: currentSeq, epoch: epoch), at: 0)
        } else if let seq = point.seq {
            catchUp = self.replay(after: seq, currentSeq: currentSeq)
        } else {
            catchUp = CatchUp(lastSeq: currentSeq)
        }
        if point.hello {
            let start = isReset ? 0 : (point.seq ?? currentSeq)
            catchUp.notices.append(.live(seq: start, epoch: epoch))
        }
        catchUp.epoch = epoch
        return catchUp
    }

    /// The messages after `seq` (at most `currentSeq`), after a `lost` notice
    /// when the oldest of them are no longer retained.
    private func replay(after seq: UInt64, currentSeq: UInt64) -> CatchUp {
        guard seq < currentSeq else { return CatchUp(lastSeq: currentSeq) }
        let firstRetained = self.messages.first?.seq ?? (currentSeq + 1)
        var notices: [CatchUp.Notice] = []
        if firstRetained > seq + 1 {
            notices.append(.lost(from: seq + 1, to: firstRetained - 1))
        }
        var replay: [Message] = []
        if let first = self.messages.first {
            // Seqs are consecutive, so the position of `seq + 1` is arithmetic.
            let start = seq + 1 > first.seq ? Int(seq + 1 - first.seq) : 0
            if start < self.messages.count {
                replay.reserveCapacity(self.messages.count - start)
                replay.append(contentsOf: self.messages[start...])
            }
        }
        return CatchUp(notices: notices, messages: replay, lastSeq: currentSeq)
    }
}
