import CompressNIO
import NIOCore

/// Decompresses a client's permessage-deflate messages (RFC 7692 section
/// 7.2.2, https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2), one
/// connection's worth: the client may take its context over from message to
/// message, so the stream (compress-nio's raw inflate) lives as long as the
/// connection.
///
/// Inflation is bounded: output grows only up to `maxSize`, and a message
/// that would inflate past it stops at the end of the buffer that holds
/// `maxSize` bytes (NIO rounds capacities up to a power of two), so a few
/// kilobytes that claim to be gigabytes cost no more than that buffer.
public final class PerMessageInflater {
    public enum Failure: Error, Equatable {
        /// The message inflates to more than `maxSize` bytes.
        case tooLarge
        /// The bytes are not a deflate stream.
        case corrupt
    }

    /// What RFC 7692 section 7.2.2 appends to each message before inflating it.
    private static let flushMarker: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    private let decompressor: ZlibDecompressor

    /// Nil when zlib cannot allocate its state.
    public init?() {
        guard let decompressor = try? ZlibDecompressor(algorithm: .deflate, windowSize: 15) else { return nil }
        self.decompressor = decompressor
    }

    /// The message `compressed` carries, at most `maxSize` bytes.
    public func inflate(
        _ compressed: ByteBuffer,
        maxSize: Int,
        allocator: ByteBufferAllocator
    ) throws(Failure) -> ByteBuffer {
        guard compressed.readableBytes <= Int(UInt32.max) - Self.flushMarker.count else { throw .tooLarge }
        // The message and its flush marker in one buffer of our own (compress-nio
        // writes through a mutable view, which would copy a shared one anyway).
        var input = allocator.buffer(capacity: compressed.readableBytes + Self.flushMarker.count)
        input.writeImmutableBuffer(compressed)
        input.writeBytes(Self.flushMarker)
        // One byte past the limit tells "exactly maxSize" from "more".
        let limit = maxSize + 1
        var output = allocator.buffer(capacity: min(limit, max(256, compressed.readableBytes * 4)))
        while try self.inflate(&input, into: &output, limit: limit) {}
        guard output.readableBytes <= maxSize else { throw .tooLarge }
        return output
    }

    /// One call into zlib; true when it stopped for want of room in `output`
    /// (grown here, up to `limit` bytes) and must be called again.
    private func inflate(_ input: inout ByteBuffer, into output: inout ByteBuffer, limit: Int) throws(Failure) -> Bool {
        guard output.readableBytes < limit else { throw .tooLarge }
        if output.writableBytes == 0 {
            output.reserveCapacity(min(limit, max(output.capacity * 2, 256)))
        }
        let inputBefore = input.readableBytes
        let outputBefore = output.readableBytes
        do {
            try self.decompressor.inflate(from: &input, to: &output)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            // Out of room: go round for more. Room and input left, yet no progress: not deflate.
            guard output.writableBytes > 0 else { return true }
            throw .corrupt
        } catch let error as CompressNIOError where error == .inputBufferOverflow {
            // All input was in already and nothing was pending.
            return false
        } catch {
            throw .corrupt
        }
        // zlib returned with room to spare: either all input is in, or the
        // client ended its deflate stream (BFINAL) and the next message starts
        // a new one; the rest of this one is ignored.
        guard input.readableBytes > 0 else { return false }
        self.reset()
        // The stream had ended with an earlier message: inflate this one afresh.
        return input.readableBytes == inputBefore && output.readableBytes == outputBefore
    }

    private func reset() {
        do {
            try self.decompressor.reset()
        } catch {
            preconditionFailure("inflateReset failed: \(error)")
        }
    }
}

@available(*, unavailable)
extension PerMessageInflater: Sendable {}
