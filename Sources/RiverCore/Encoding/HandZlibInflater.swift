// TEMPORARY (measurement only, issue 19 item 4): the hand binding, selected by RIVER_ZLIB_HAND=1.
import CZlib
import NIOCore

/// Decompresses a client's permessage-deflate messages (RFC 7692 section
/// 7.2.2, https://www.rfc-editor.org/rfc/rfc7692#section-7.2.2), one
/// connection's worth: the client may take its context over from message to
/// message, so the stream lives as long as the connection.
///
/// Inflation is bounded: output grows only up to `maxSize`, and a message
/// that would inflate past it stops there (a few kilobytes that claim to be
/// gigabytes cost no more than `maxSize`).
final class HandZlibInflater {
    typealias Failure = PerMessageInflater.Failure

    /// What RFC 7692 section 7.2.2 appends to each message before inflating it.
    private static let flushMarker = ByteBuffer(bytes: [0x00, 0x00, 0xFF, 0xFF])

    private let stream: UnsafeMutablePointer<z_stream>

    /// Nil when zlib cannot allocate its state.
    init?() {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard c_zlib_inflate_init_raw(stream) == Z_OK else {
            stream.deallocate()
            return nil
        }
        self.stream = stream
    }

    deinit {
        inflateEnd(self.stream)
        self.stream.deallocate()
    }

    /// The message `compressed` carries, at most `maxSize` bytes.
    func inflate(
        _ compressed: ByteBuffer,
        maxSize: Int,
        allocator: ByteBufferAllocator
    ) throws(Failure) -> ByteBuffer {
        // One byte past the limit tells "exactly maxSize" from "more".
        let limit = maxSize + 1
        var output = allocator.buffer(capacity: min(limit, max(256, compressed.readableBytes * 4)))
        var ended = false
        for input in [compressed, Self.flushMarker] where !ended {
            let outcome = input.withUnsafeReadableBytes { bytes in
                self.inflate(bytes, into: &output, limit: limit)
            }
            switch outcome {
            case .consumed: break
            case .streamEnded: ended = true
            case .failed(let failure): throw failure
            }
        }
        guard output.readableBytes <= maxSize else { throw .tooLarge }
        return output
    }

    private enum Outcome {
        case consumed
        /// The client ended its deflate stream (BFINAL): the next message starts a new one.
        case streamEnded
        case failed(Failure)
    }

    /// Feeds `input` to zlib, growing `output` as needed up to `limit` bytes.
    private func inflate(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, limit: Int) -> Outcome {
        guard input.count <= Int(UInt32.max) else { return .failed(.tooLarge) }
        self.stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        self.stream.pointee.avail_in = UInt32(input.count)
        defer { self.stream.pointee.next_in = nil }
        while true {
            let remaining = limit - output.readableBytes
            guard remaining > 0 else { return .failed(.tooLarge) }
            if output.writableBytes == 0 {
                output.reserveCapacity(min(limit, max(output.capacity * 2, 256)))
            }
            let room = min(output.writableBytes, remaining)
            let inputBefore = self.stream.pointee.avail_in
            var status: Int32 = Z_OK
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { buffer in
                self.stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                self.stream.pointee.avail_out = UInt32(room)
                status = CZlib.inflate(self.stream, Z_SYNC_FLUSH)
                self.stream.pointee.next_out = nil
                return room - Int(self.stream.pointee.avail_out)
            }
            let roomLeft = self.stream.pointee.avail_out > 0
            switch status {
            case Z_STREAM_END:
                inflateReset(self.stream)
                return .streamEnded
            case Z_OK, Z_BUF_ERROR:
                // All input is in and zlib had room to spare: nothing is pending.
                if self.stream.pointee.avail_in == 0 && roomLeft { return .consumed }
                // Out of room: go round for more. Room and input left, yet no progress: not deflate.
                if roomLeft && self.stream.pointee.avail_in == inputBefore { return .failed(.corrupt) }
            default:
                return .failed(.corrupt)
            }
        }
    }
}

@available(*, unavailable)
extension HandZlibInflater: Sendable {}
