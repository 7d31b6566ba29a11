/// What a new subscriber receives before live messages: an optional notice,
/// the retained messages after the requested `seq`, and the cursor from which
/// live delivery continues.
public struct CatchUp: Sendable {
    /// Said first when the requested point cannot be served gaplessly.
    public enum Notice: Sendable, Equatable {
        /// Messages `from...to` are no longer retained and will never be delivered.
        case lost(from: UInt64, to: UInt64)
        /// The requested `seq` is ahead of the channel: its history was reset
        /// (engine restart, channel reclaimed or deleted). `current` is the channel's seq now.
        case reset(current: UInt64)
    }

    public var notice: Notice?
    public var messages: [Message]
    /// Live delivery continues with messages whose seq is greater than this.
    public var lastSeq: UInt64

    public init(notice: Notice? = nil, messages: [Message] = [], lastSeq: UInt64) {
        self.notice = notice
        self.messages = messages
        self.lastSeq = lastSeq
    }

    /// True when there is something to send before going live.
    public var isEmpty: Bool { self.notice == nil && self.messages.isEmpty }
}
