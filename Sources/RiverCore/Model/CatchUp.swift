/// What a new subscriber receives before live messages: notices, the
/// retained messages to replay, and the cursor from which live delivery
/// continues.
public struct CatchUp: Sendable {
    /// Said before any message when the requested point needs explaining.
    public enum Notice: Sendable, Equatable {
        /// Messages `from...to` are no longer retained and will never be delivered.
        case lost(from: UInt64, to: UInt64)
        /// The history the subscriber resumed from is gone (its `seq` is ahead of
        /// the channel, or its `epoch` is another incarnation's): everything the
        /// channel retains is replayed next. `current` is the channel's seq now.
        case reset(current: UInt64, epoch: UInt64)
        /// Asked for with `hello=1`: the subscription starts after `seq`, in `epoch`.
        case live(seq: UInt64, epoch: UInt64)
    }

    public var notices: [Notice]
    public var messages: [Message]
    /// Live delivery continues with messages whose seq is greater than this.
    public var lastSeq: UInt64
    /// The channel incarnation the subscription follows (0 when the engine did not say).
    public var epoch: UInt64

    public init(notices: [Notice] = [], messages: [Message] = [], lastSeq: UInt64, epoch: UInt64 = 0) {
        self.notices = notices
        self.messages = messages
        self.lastSeq = lastSeq
        self.epoch = epoch
    }

    /// True when there is something to send before going live.
    public var isEmpty: Bool { self.notices.isEmpty && self.messages.isEmpty }
}

/// Where a subscriber asks to start.
public struct ResumePoint: Sendable, Equatable {
    /// Replay what comes after this seq (nil: live only).
    public var seq: UInt64?
    /// The channel incarnation `seq` belongs to, when the client knows it.
    public var epoch: UInt64?
    /// Whether to announce the starting point (`live` notice).
    public var hello: Bool

    public init(seq: UInt64? = nil, epoch: UInt64? = nil, hello: Bool = false) {
        self.seq = seq
        self.epoch = epoch
        self.hello = hello
    }

    public static let live = ResumePoint()
}
