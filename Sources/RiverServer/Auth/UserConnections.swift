import NIOCore
import RiverCore

/// The connections of each verified user on one event loop (a token's
/// `sub`, or the `user` the application named), so that
/// `POST /users/U/disconnect` can end them. Confined to its loop; a
/// connection leaves when it closes.
final class UserConnections {
    private var byUser: [String: [ObjectIdentifier: Channel]] = [:]

    /// Counts `channel` as `member`'s until it closes (self-chosen names never count).
    func add(_ channel: Channel, as member: PresenceMember?) {
        guard let member, member.isVerified else { return }
        let id = ObjectIdentifier(channel)
        guard self.byUser[member.user, default: [:]].updateValue(channel, forKey: id) == nil else { return }
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.byUser[member.user]?[id] = nil
            if self.byUser[member.user]?.isEmpty == true { self.byUser[member.user] = nil }
        }
    }

    /// Closes every connection of `user`; how many there were.
    func disconnect(_ user: String) -> Int {
        guard let channels = self.byUser.removeValue(forKey: user) else { return 0 }
        for channel in channels.values { channel.close(promise: nil) }
        return channels.count
    }
}

@available(*, unavailable) extension UserConnections: Sendable {}
