/// A configured secret (`publish_secret`, `admin_secret`, `token_secret`).
///
/// It never prints: `description`, `debugDescription`, string interpolation,
/// `dump` and every other reflection show `<redacted>`, so a configuration
/// (or anything holding one) can be logged whole without leaking it. The
/// value leaves only through `matches(_:)` and `withBytes(_:)`.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) { self.value = value }

    /// The secret's length in bytes (configuration checks it).
    public var byteCount: Int { self.value.utf8.count }

    /// Whether `presented` is the secret, compared in constant time so timing
    /// does not reveal how much of it matched.
    public func matches(_ presented: String) -> Bool {
        Self.constantTimeEquals(Array(presented.utf8), Array(self.value.utf8))
    }

    /// Lends the secret's bytes (to build an HMAC key); they must not escape `body`.
    public func withBytes<Result>(_ body: ([UInt8]) throws -> Result) rethrows -> Result {
        try body(Array(self.value.utf8))
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }

    public static func == (lhs: Secret, rhs: Secret) -> Bool { lhs.matches(rhs.value) }

    /// Compares without an early exit; a length difference is folded into the result.
    private static func constantTimeEquals(_ left: [UInt8], _ right: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: left.count ^ right.count)
        for index in 0..<max(left.count, right.count) {
            difference |= UInt((index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0))
        }
        return difference == 0
    }
}
