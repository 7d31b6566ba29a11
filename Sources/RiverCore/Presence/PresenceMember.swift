import NIOCore

/// Who a subscription is, for presence: a user and what the application
/// says of it (`info`, a JSON object of at most `maxInfoBytes`).
///
/// A user comes from a verified credential (a token's `sub`, or the `user`
/// the application names), or — only where the operator allows it — is a
/// name the client chose itself: then `isVerified` is false, it is listed
/// and announced with `"unverified": true`, and it is another member than
/// the verified user of the same name, so it can never pass for one.
/// Immutable, shared by reference: a subscription keeps one pointer.
public final class PresenceMember: Sendable, Hashable, CustomStringConvertible {
    public let user: String
    /// The info object's JSON bytes, as River writes it (nil: none).
    public let info: ByteBuffer?
    public let isVerified: Bool

    /// The largest info object, in bytes of JSON (PROTOCOL.md C3).
    public static let maxInfoBytes = 1024

    public init(user: String, info: ByteBuffer? = nil, isVerified: Bool = true) {
        self.user = user
        self.info = info
        self.isVerified = isVerified
    }

    /// Members are the same when their user and verification are (info may change between connections).
    public static func == (lhs: PresenceMember, rhs: PresenceMember) -> Bool {
        lhs.isVerified == rhs.isVerified && lhs.user.utf8.elementsEqual(rhs.user.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.isVerified)
        for byte in self.user.utf8 { hasher.combine(byte) }
    }

    /// The order members are listed in: byte order of the user, verified users first on a tie.
    public static func sortsBefore(_ a: PresenceMember, _ b: PresenceMember) -> Bool {
        if a.user.utf8.elementsEqual(b.user.utf8) { return a.isVerified && !b.isVerified }
        return a.user.utf8.lexicographicallyPrecedes(b.user.utf8)
    }

    public var description: String { self.isVerified ? self.user : "\(self.user) (unverified)" }

    /// `"user": "U", "info": {...}` (and `"unverified": true`), the fields every presence JSON shares.
    public func writeFields(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("\"user\": ")
        JSONString.write(self.user, into: &buffer)
        if let info = self.info {
            buffer.writeStaticString(", \"info\": ")
            buffer.writeImmutableBuffer(info)
        }
        if !self.isVerified {
            buffer.writeStaticString(", \"unverified\": true")
        }
    }
}
