#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Comparisons of strings as the UTF-8 bytes they hold.
///
/// Swift's `==`, `<`, `hasPrefix` and hashing follow Unicode canonical
/// equivalence: `"room-\u{F1}"` equals `"room-n\u{303}"`, and
/// `"private-\u{301}x"` does not start with `"private-"` (the accent joins the
/// dash into one character). Channel names, prefixes, origins and token grants
/// are byte strings to River, so they are compared with these instead
/// (https://www.unicode.org/reports/tr15/ explains the equivalence being avoided).
extension String {
    /// Whether both strings hold the same bytes.
    @inlinable
    public func utf8Equals(_ other: String) -> Bool {
        let fast = self.utf8.withContiguousStorageIfAvailable { left in
            other.utf8.withContiguousStorageIfAvailable { right in
                left.count == right.count
                    && (left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0)
            }
        }
        if let fast, let result = fast { return result }
        return self.utf8.elementsEqual(other.utf8)
    }

    /// Whether the string's bytes begin with `prefix`'s bytes.
    @inlinable
    public func utf8HasPrefix(_ prefix: String) -> Bool {
        let fast = self.utf8.withContiguousStorageIfAvailable { whole in
            prefix.utf8.withContiguousStorageIfAvailable { start in
                start.count <= whole.count
                    && (start.count == 0 || memcmp(whole.baseAddress!, start.baseAddress!, start.count) == 0)
            }
        }
        if let fast, let result = fast { return result }
        return self.utf8.starts(with: prefix.utf8)
    }

    /// Byte order, which for UTF-8 is also code point order.
    @inlinable
    public func utf8Precedes(_ other: String) -> Bool {
        let fast = self.utf8.withContiguousStorageIfAvailable { left in
            other.utf8.withContiguousStorageIfAvailable { right in
                let common = min(left.count, right.count)
                let order = common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common)
                return order != 0 ? order < 0 : left.count < right.count
            }
        }
        if let fast, let result = fast { return result }
        return self.utf8.lexicographicallyPrecedes(other.utf8)
    }

    /// Feeds the string's bytes to `hasher`: equal bytes, equal hashes.
    @inlinable
    public func utf8Hash(into hasher: inout Hasher) {
        let done: Void? = self.utf8.withContiguousStorageIfAvailable {
            hasher.combine(bytes: UnsafeRawBufferPointer($0))
        }
        if done == nil {
            Array(self.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
