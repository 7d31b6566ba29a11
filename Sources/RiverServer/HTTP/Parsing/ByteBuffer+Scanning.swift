import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ByteBuffer {
    /// The offset (from the reader index) of the first `byte` among the
    /// readable bytes at or after `start`, found with `memchr`.
    func readableOffset(of byte: UInt8, from start: Int = 0) -> Int? {
        self.withUnsafeReadableBytes { bytes in
            guard start < bytes.count, let base = bytes.baseAddress else { return nil }
            guard let found = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
    }

    /// The readable bytes from `offset` (relative to the reader index) for `length` bytes, sharing storage.
    func readableSlice(offset: Int, length: Int) -> ByteBuffer {
        self.getSlice(at: self.readerIndex + offset, length: length)!
    }

    /// True when every readable byte satisfies `predicate`.
    func allReadableBytes(_ predicate: (UInt8) -> Bool) -> Bool {
        self.withUnsafeReadableBytes { bytes in
            for byte in bytes where !predicate(byte) { return false }
            return true
        }
    }

    /// Whether the readable bytes equal `text`'s UTF-8.
    func readableBytesEqual(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { expected in
            self.withUnsafeReadableBytes { bytes in
                bytes.count == expected.count
                    && (expected.isEmpty || memcmp(bytes.baseAddress!, expected.baseAddress!, bytes.count) == 0)
            }
        }
    }
}
