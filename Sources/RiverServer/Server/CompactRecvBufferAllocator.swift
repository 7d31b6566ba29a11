import NIOCore

/// NIO's adaptive receive-buffer sizing (`AdaptiveRecvByteBufferAllocator`:
/// start at 256 bytes, double after a read that filled the buffer, halve
/// after two reads that used at most half of it, 64 bytes to 64 KiB) in a
/// value small enough to live inside the channel's existential. NIO's own
/// keeps five words, which Swift boxes on the heap: 63 bytes per connection
/// measured by `river-bench idle` against `reference-server --allocator river`
/// (2,483 B) and `--allocator fixed256` (2,420 B). A parked stream is what a
/// server holds most of, so River sizes its reads with this instead.
struct CompactRecvBufferAllocator: RecvByteBufferAllocator {
    static let minimum: UInt32 = 64
    static let initial: UInt32 = 256
    static let maximum: UInt32 = 65536

    private var nextSize = Self.initial
    private var decreaseNow = false

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: Int(self.nextSize))
    }

    func nextBufferSize() -> Int? {
        Int(self.nextSize)
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        let lowerBound = self.nextSize >> 1
        let upperBound = self.nextSize << 1
        if actualReadBytes <= Int(lowerBound) && lowerBound >= Self.minimum {
            if self.decreaseNow {
                self.nextSize = lowerBound
            }
            self.decreaseNow.toggle()
            return false
        }
        self.decreaseNow = false
        guard actualReadBytes >= Int(self.nextSize) && upperBound <= Self.maximum else { return false }
        self.nextSize = upperBound
        return true
    }
}
