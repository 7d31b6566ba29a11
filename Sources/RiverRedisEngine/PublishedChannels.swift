import NIOCore
import RiverCore

/// What one event loop remembers of the channels it publishes to, so the
/// publish script does the least work: each channel's epoch (the script
/// checks it while counting instead of reading it) and when this loop last
/// pushed the channel's keys' expiry forward (it does so once per
/// `refreshInterval`, and the keys live `refreshInterval` longer than the
/// history TTL, so they never expire before the history they hold).
/// Forgetting is always safe: it only costs the script one more step.
struct PublishedChannels {
    struct Memo {
        var epoch: UInt64?
        var refreshedAt: NIODeadline?
    }

    let refreshInterval: TimeAmount
    private var memos: [ChannelName: Memo] = [:]
    static let limit = 65536

    init(refreshInterval: TimeAmount) {
        self.refreshInterval = refreshInterval
    }

    func memo(for channel: ChannelName) -> Memo { self.memos[channel] ?? Memo() }

    func needsRefresh(_ memo: Memo, now: NIODeadline) -> Bool {
        guard let refreshedAt = memo.refreshedAt else { return true }
        return refreshedAt + self.refreshInterval <= now
    }

    /// Notes a publish Redis acknowledged.
    mutating func published(to channel: ChannelName, epoch: UInt64, refreshedAt: NIODeadline?) {
        if self.memos.count >= Self.limit && self.memos[channel] == nil { self.memos.removeAll() }
        var memo = self.memos[channel] ?? Memo()
        if memo.epoch != epoch { memo.refreshedAt = nil }
        memo.epoch = epoch
        if let refreshedAt { memo.refreshedAt = refreshedAt }
        self.memos[channel] = memo
    }

    /// Forgets what no longer saves anything (called every second).
    mutating func sweep(now: NIODeadline) {
        self.memos = self.memos.filter { !self.needsRefresh($0.value, now: now) }
    }
}
