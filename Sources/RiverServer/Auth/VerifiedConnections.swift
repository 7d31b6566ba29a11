import NIOCore
import RiverCore

/// The connections on one event loop that a verified user holds (a token's
/// `sub`, or the `user` the application named) and that a token with a `jti`
/// opened, so that `POST /users/U/disconnect` and `POST /tokens/revoke` can
/// end them. Confined to its loop; a connection leaves when it closes.
final class VerifiedConnections {
    /// Whom a connection is counted under, by the name's bytes (two spellings of one
    /// Unicode text are two names, as everywhere in River).
    enum Holder: Hashable {
        case user([UInt8])
        case token([UInt8])

        static func user(_ name: String) -> Holder { .user(Array(name.utf8)) }
        static func token(_ id: String) -> Holder { .token(Array(id.utf8)) }
    }

    private var byHolder: [Holder: [ObjectIdentifier: Channel]] = [:]
    private let revokedTokens: RevokedTokens

    init(revokedTokens: RevokedTokens) {
        self.revokedTokens = revokedTokens
    }

    /// Counts `channel` as `member`'s until it closes (self-chosen names never count).
    func add(_ channel: Channel, as member: PresenceMember?) {
        guard let member, member.isVerified else { return }
        self.add(channel, under: .user(member.user))
    }

    /// Counts `channel` as opened by `token` until it closes, when the token has a `jti`; a
    /// token revoked while it was being verified closes the connection at once.
    func add(_ channel: Channel, openedBy token: AccessToken) {
        guard let id = token.id else { return }
        guard !self.revokedTokens.isRevoked(id, now: WallClock.nowMillis() / 1000) else {
            return channel.close(promise: nil)
        }
        self.add(channel, under: .token(id))
    }

    private func add(_ channel: Channel, under holder: Holder) {
        let id = ObjectIdentifier(channel)
        guard self.byHolder[holder, default: [:]].updateValue(channel, forKey: id) == nil else { return }
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.byHolder[holder]?[id] = nil
            if self.byHolder[holder]?.isEmpty == true { self.byHolder[holder] = nil }
        }
    }

    /// Closes every connection of `holder`; how many there were.
    func disconnect(_ holder: Holder) -> Int {
        guard let channels = self.byHolder.removeValue(forKey: holder) else { return 0 }
        for channel in channels.values { channel.close(promise: nil) }
        return channels.count
    }
}

@available(*, unavailable) extension VerifiedConnections: Sendable {}
