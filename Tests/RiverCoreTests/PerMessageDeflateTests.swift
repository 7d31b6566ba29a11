import NIOCore
import Testing

@testable import RiverCore

/// permessage-deflate's two halves, byte for byte: one compressed frame per
/// message, and inflation that never passes its bound.
@Suite struct PerMessageDeflateTests {
    /// The payload of a server frame, its header checked and cut off.
    func payload(of frame: ByteBuffer, opcode: UInt8) -> ByteBuffer {
        var frame = frame
        let first = frame.readInteger(as: UInt8.self)!
        #expect(first == 0x80 | 0x40 | opcode, "FIN, RSV1 and the opcode")
        let short = Int(frame.readInteger(as: UInt8.self)!)
        let length =
            short < 126
            ? short : short == 126 ? Int(frame.readInteger(as: UInt16.self)!) : Int(frame.readInteger(as: UInt64.self)!)
        #expect(length == frame.readableBytes)
        return frame
    }

    @Test(arguments: [0, 1, 125, 126, 65_535, 65_536, 300_000])
    func framesRoundTripAtEverySizeAndWindow(size: Int) throws {
        let text = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 % 61) + 32 })
        let deflater = PerMessageDeflater()
        for windowBits in PerMessageDeflater.windowBits {
            let frame = deflater.frame(opcode: .text, payload: text, windowBits: windowBits, allocator: .init())
            let inflater = try #require(PerMessageInflater())
            let compressed = self.payload(of: frame, opcode: 0x1)
            #expect(try inflater.inflate(compressed, maxSize: size, allocator: .init()) == text)
        }
    }

    /// Every length across the inflater's first buffers: output that fills a
    /// buffer exactly, then needs one more round with no input left.
    @Test func inflatesEveryLengthAcrossBufferBoundaries() throws {
        let deflater = PerMessageDeflater()
        let inflater = try #require(PerMessageInflater())
        for size in 0...2_100 {
            let text = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 % 251) })
            let frame = deflater.frame(opcode: .binary, payload: text, windowBits: 15, allocator: .init())
            let compressed = self.payload(of: frame, opcode: 0x2)
            #expect(try inflater.inflate(compressed, maxSize: 1 << 20, allocator: .init()) == text, "\(size) bytes")
        }
    }

    /// RFC 7692 section 7.2.3.1: "Hello" without context takeover.
    @Test func helloIsTheRFCsExample() {
        let frame = PerMessageDeflater().frame(
            opcode: .text,
            payload: ByteBuffer(string: "Hello"),
            windowBits: 15,
            allocator: .init()
        )
        #expect(Array(frame.readableBytesView) == [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
    }

    @Test func theInflaterKeepsTheClientsContextAcrossMessages() throws {
        // The RFC's example of a second "Hello" that refers back to the first (section 7.2.3.2).
        let inflater = try #require(PerMessageInflater())
        let first = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        let second = ByteBuffer(bytes: [0xF2, 0x00, 0x11, 0x00, 0x00])
        #expect(String(buffer: try inflater.inflate(first, maxSize: 100, allocator: .init())) == "Hello")
        #expect(String(buffer: try inflater.inflate(second, maxSize: 100, allocator: .init())) == "Hello")
        // A message ending its deflate stream (BFINAL) is followed by a fresh one.
        let final = ByteBuffer(bytes: [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(String(buffer: try inflater.inflate(final, maxSize: 100, allocator: .init())) == "Hello")
        #expect(String(buffer: try inflater.inflate(first, maxSize: 100, allocator: .init())) == "Hello")
    }

    @Test func inflationStopsAtItsBound() throws {
        let zeros = ByteBuffer(repeating: 0, count: 64 << 20)
        let frame = PerMessageDeflater(level: 9).frame(
            opcode: .binary,
            payload: zeros,
            windowBits: 15,
            allocator: .init()
        )
        let bomb = self.payload(of: frame, opcode: 0x2)
        #expect(bomb.readableBytes < 128 * 1024)
        let inflater = try #require(PerMessageInflater())
        #expect(throws: PerMessageInflater.Failure.tooLarge) {
            try inflater.inflate(bomb, maxSize: 1 << 20, allocator: .init())
        }
        let exact = try #require(PerMessageInflater())
        #expect(try exact.inflate(bomb, maxSize: 64 << 20, allocator: .init()).readableBytes == 64 << 20)
    }

    @Test func garbageIsCorrupt() throws {
        let inflater = try #require(PerMessageInflater())
        #expect(throws: PerMessageInflater.Failure.corrupt) {
            try inflater.inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF]), maxSize: 100, allocator: .init())
        }
    }
}
