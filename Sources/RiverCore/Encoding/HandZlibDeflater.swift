// TEMPORARY (measurement only, issue 19 item 4): the hand binding, selected by RIVER_ZLIB_HAND=1.
import CZlib
import NIOCore

/// Compresses messages for permessage-deflate (RFC 7692,
/// https://www.rfc-editor.org/rfc/rfc7692#section-7.2.1). Every message is
/// compressed on its own — the server takes no context over from one message
/// to the next (`server_no_context_takeover`) — so one compressed frame is
/// the same bytes for every subscriber that negotiated the same window, and
/// is built once per message per event loop, never once per connection.
///
/// One per event loop (`LoopHub.deflater`), with a zlib stream per window
/// size made on first use. Confined to its loop.
final class HandZlibDeflater {
    /// The window sizes a server may use (2^9 to 2^15 bytes); zlib cannot
    /// write raw streams for a window of 2^8.
    public static let windowBits: ClosedRange<Int> = 9...15
    /// What a sync flush ends with, and RFC 7692 section 7.2.1 removes.
    private static let flushMarker: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    /// The largest frame header: leave room for it before the compressed bytes.
    private static let maxHeaderLength = 10

    private var streams: [UnsafeMutablePointer<z_stream>?] = Array(repeating: nil, count: 16)

    init() {}

    deinit {
        for case let stream? in self.streams {
            deflateEnd(stream)
            stream.deallocate()
        }
    }

    /// A final frame with RSV1 set ("compressed") carrying `payload`
    /// deflated with a window of 2^`windowBits` bytes.
    func frame(
        opcode: WebSocketFraming.Opcode,
        payload: ByteBuffer,
        windowBits: Int,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        precondition(Self.windowBits.contains(windowBits), "window bits out of range")
        precondition(payload.readableBytes <= Int(UInt32.max), "message larger than zlib takes in one call")
        let stream = self.stream(windowBits: windowBits)
        deflateReset(stream)
        // A sync flush adds at most an empty stored block beyond deflate's bound.
        let bound = Int(deflateBound(stream, UInt(payload.readableBytes))) + 6
        var frame = allocator.buffer(capacity: Self.maxHeaderLength + bound)
        frame.moveWriterIndex(forwardBy: Self.maxHeaderLength)
        frame.moveReaderIndex(forwardBy: Self.maxHeaderLength)
        _ = payload.withUnsafeReadableBytes { input in
            frame.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { output in
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                )
                stream.pointee.avail_in = UInt32(input.count)
                stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = UInt32(bound)
                let status = deflate(stream, Z_SYNC_FLUSH)
                precondition(status == Z_OK && stream.pointee.avail_in == 0, "deflate left input: \(status)")
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
                return bound - Int(stream.pointee.avail_out)
            }
        }
        if frame.readableBytesView.suffix(4).elementsEqual(Self.flushMarker) {
            frame.moveWriterIndex(to: frame.writerIndex - 4)
        }
        // The header goes right before the compressed bytes: no copy.
        var header = ByteBuffer()
        WebSocketFraming.writeHeader(opcode: opcode, length: frame.readableBytes, compressed: true, into: &header)
        let start = frame.readerIndex - header.readableBytes
        frame.setBuffer(header, at: start)
        frame.moveReaderIndex(to: start)
        return frame
    }

    private func stream(windowBits: Int) -> UnsafeMutablePointer<z_stream> {
        if let stream = self.streams[windowBits] { return stream }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = c_zlib_deflate_init_raw(stream, Z_DEFAULT_COMPRESSION, Int32(windowBits), 8)
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
        self.streams[windowBits] = stream
        return stream
    }
}

@available(*, unavailable)
extension HandZlibDeflater: Sendable {}
