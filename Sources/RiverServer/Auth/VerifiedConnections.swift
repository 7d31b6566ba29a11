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
    /// What each connection is counted under, oldest first (to forget it all when it closes).
    private var holdersByConnection: [ObjectIdentifier: [Holder]] = [:]
    private let revokedTokens: RevokedTokens

    /// The most tokens one connection is counted under: a keep-alive publisher presenting a
    /// fresh token with every request keeps only its latest ones, not one entry per request.
    static let tokensPerConnection = 64

    private let cuts: ConnectionCuts

    init(revokedTokens: RevokedTokens, cuts: ConnectionCuts) {
        self.revokedTokens = revokedTokens
        self.cuts = cuts
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
            self.cuts.record(.revoked, peer: channel.remoteAddress, transport: "http", detail: "token \(id) revoked")
            return channel.close(promise: nil)
        }
        self.add(channel, under: .token(id))
    }

    private func add(_ channel: Channel, under holder: Holder) {
        let id = ObjectIdentifier(channel)
        var holders = self.holdersByConnection[id] ?? []
        if holders.isEmpty {
            channel.closeFuture.assumeIsolated().whenComplete { _ in self.forget(id) }
        }
        guard !holders.contains(holder) else { return }
        holders.append(holder)
        self.byHolder[holder, default: [:]][id] = channel
        if case .token = holder, holders.count(where: Self.isToken) > Self.tokensPerConnection,
            let oldest = holders.firstIndex(where: Self.isToken)
        {
            self.remove(id, from: holders.remove(at: oldest))
        }
        self.holdersByConnection[id] = holders
    }

    private static func isToken(_ holder: Holder) -> Bool {
        if case .token = holder { true } else { false }
    }

    private func remove(_ id: ObjectIdentifier, from holder: Holder) {
        self.byHolder[holder]?[id] = nil
        if self.byHolder[holder]?.isEmpty == true { self.byHolder[holder] = nil }
    }

    /// A connection closed: it counts under nothing any more.
    private func forget(_ id: ObjectIdentifier) {
        for holder in self.holdersByConnection.removeValue(forKey: id) ?? [] {
            self.remove(id, from: holder)
        }
    }

    /// Closes every connection of `holder`; how many there were.
    func disconnect(_ holder: Holder) -> Int {
        guard let channels = self.byHolder.removeValue(forKey: holder) else { return 0 }
        for (id, channel) in channels {
            self.holdersByConnection[id]?.removeAll { $0 == holder }
            switch holder {
            case .user(let user):
                self.cuts.record(
                    .disconnected,
                    peer: channel.remoteAddress,
                    transport: "-",
                    detail: "user " + String(decoding: user, as: UTF8.self)
                )
            case .token(let token):
                self.cuts.record(
                    .revoked,
                    peer: channel.remoteAddress,
                    transport: "-",
                    detail: "token " + String(decoding: token, as: UTF8.self) + " revoked"
                )
            }
            channel.close(promise: nil)
        }
        return channels.count
    }
}

@available(*, unavailable) extension VerifiedConnections: Sendable {}
