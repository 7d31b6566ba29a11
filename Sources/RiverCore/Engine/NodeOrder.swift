/// What one node asks every other node sharing its engine to do (the Redis
/// engine carries it on `river:control`); each loop's hub carries it out
/// (`LoopHub.carryOut`) and counts the connections it ended.
public enum NodeOrder: Equatable, Sendable {
    /// `POST /users/U/disconnect`: end every connection of the user.
    case disconnectUser(String)
    /// `POST /tokens/revoke`: refuse the token whose `jti` is `id` until `until`
    /// (seconds since 1970) and end the connections it opened.
    case revokeToken(id: String, until: Int64)
}
