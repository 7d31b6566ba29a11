import NIOConcurrencyHelpers

/// The tokens revoked by `POST /tokens/revoke`, by `jti`, each until the
/// second (since 1970) past which the token would be refused anyway: its
/// `exp` plus the clock skew tolerated. Shared by every loop of the node;
/// with the Redis engine every node learns them (`NodeOrder.revokeToken`).
///
/// Bounded: at most `capacity` ids; when full, the lapsed ones are dropped,
/// and if none has lapsed the revocation is refused (503) rather than
/// forgetting one still in force.
final class RevokedTokens: Sendable {
    /// The most ids kept (about 100 bytes each).
    static let capacity = 100_000

    /// By the id's bytes: two spellings of one Unicode text are two ids.
    private let untilByID = NIOLockedValueBox<[[UInt8]: Int64]>([:])
    private let capacity: Int

    init(capacity: Int = RevokedTokens.capacity) {
        self.capacity = capacity
    }

    /// Keeps `id` revoked until `until` (a later revocation of the same id may
    /// extend it, never shorten it). False when the list is full of ids still in force.
    func revoke(_ id: String, until: Int64, now: Int64) -> Bool {
        guard until >= now else { return true }
        let id = Array(id.utf8)
        return self.untilByID.withLockedValue { untilByID in
            if let kept = untilByID[id] {
                untilByID[id] = max(kept, until)
                return true
            }
            if untilByID.count >= self.capacity {
                untilByID = untilByID.filter { $0.value >= now }
                guard untilByID.count < self.capacity else { return false }
            }
            untilByID[id] = until
            return true
        }
    }

    /// Whether the token whose `jti` is `id` is revoked at `now`.
    func isRevoked(_ id: String, now: Int64) -> Bool {
        let id = Array(id.utf8)
        return self.untilByID.withLockedValue { untilByID in
            guard let until = untilByID[id] else { return false }
            return now <= until
        }
    }

    /// How many ids are kept (lapsed ones included until the list fills).
    var count: Int { self.untilByID.withLockedValue { $0.count } }
}
