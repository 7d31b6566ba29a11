import Foundation
import NIOCore
import RiverCore
import RiverTesting
import Testing

@testable import RiverServer

/// permessage-deflate (RFC 7692): negotiation, compressed frames both ways,
/// and inflation that stops at `max_message_size`. In-process; compressed
/// frames both ways also run live.
@Suite struct WebSocketCompressionTests {
    static let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"

    /// A message's compressed payload as a client would send it (the frame header cut off), at
    /// zlib's best: 16 MiB of zeros then fit a 64 KiB frame.
    static func deflate(_ bytes: [UInt8], windowBits: Int = 15) -> [UInt8] {
        var frame = PerMessageDeflater(level: 9).frame(
            opcode: .text,
            payload: ByteBuffer(bytes: bytes),
            windowBits: windowBits,
            allocator: ByteBufferAllocator()
        )
        let length = frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self)! & 0x7F
        frame.moveReaderIndex(forwardBy: length < 126 ? 2 : length == 126 ? 4 : 10)
        return Array(frame.readableBytesView)
    }

    static func inflate(_ frame: TestWebSocket.Frame) throws -> String {
        let inflater = try #require(PerMessageInflater())
        let bytes = try inflater.inflate(ByteBuffer(bytes: frame.payload), maxSize: 1 << 20, allocator: .init())
        return String(buffer: bytes)
    }

    @Test(
        arguments: [
            ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
            (
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
            ),
            (
                "permessage-deflate; server_max_window_bits=8, permessage-deflate",
                "permessage-deflate; server_no_context_takeover"
            ),
            ("x-webkit-deflate-frame", nil),
            ("permessage-deflate; server_max_window_bits=16", nil),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", nil),
            ("permessage-deflate; mystery=1", nil),
        ] as [(String, String?)]
    )
    func negotiationAcceptsTheFirstOfferRiverCanHonour(offer: String, answer: String?) {
        #expect(PerMessageDeflateNegotiation(offers: offer)?.response == answer)
    }

    /// `websocket_compression_level` reaches the deflater: the same 20 KB of varied
    /// text comes out smaller at 9 than at 1, and both inflate to it.
    @Test func theCompressionLevelIsTheConfigured() async throws {
        var words: [String] = []
        var state: UInt64 = 1
        for _ in 0..<3000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            words.append(["river", "channel", "message", "room", "price", "tick", "hello", "world"][Int(state >> 61)])
            words.append(String(state >> 50, radix: 36))
        }
        let text = words.joined(separator: " ")
        var sizes: [Int] = []
        for level in [1, 9] {
            try await withRiver(configured { $0.webSocketCompressionLevel = level }) { river in
                let socket = try await river.webSocket("/websocket?name=z&format=raw&hello=1", headers: [Self.offer])
                _ = try await socket.read()  // the live notice
                _ = try await river.publish("z", text)
                let frame = try await socket.read()
                let inflated = try Self.inflate(frame)
                #expect(frame.compressed && inflated == text)
                sizes.append(frame.payload.count)
            }
        }
        #expect(sizes[1] < sizes[0], "level 9 \(sizes[1]) bytes, level 1 \(sizes[0])")
        var configuration = RiverConfiguration()
        #expect(throws: (any Error).self) { try configuration.set("websocket_compression_level", to: "10") }
        #expect(throws: (any Error).self) { try configuration.set("websocket_compression_level", to: "0") }
    }

    @Test(arguments: TestRiver.Mode.allCases)
    func compressedFramesBothWaysForEveryFormat(_ mode: TestRiver.Mode) async throws {
        try await withRiver(mode) { river in
            let raw = try await river.webSocket("/websocket?name=z&format=raw", headers: [Self.offer])
            #expect(
                raw.handshake.header("Sec-WebSocket-Extensions") == "permessage-deflate; server_no_context_takeover"
            )
            // `hello=1`: the first frame (the `live` notice) says the subscription is in place.
            let json = try await river.webSocket("/websocket?name=z&hello=1", headers: [Self.offer])
            let plain = try await river.webSocket("/websocket?name=z&format=raw&hello=1")
            #expect(plain.handshake.header("Sec-WebSocket-Extensions") == nil)
            // (A notice may go out uncompressed: RFC 7692 compresses message by message.)
            let notice = try await json.read()
            let noticeText = notice.compressed ? try Self.inflate(notice) : notice.text
            #expect(notice.opcode == 0x1 && noticeText.hasPrefix("[\"live\", {\"channel\": \"z\""))
            #expect(try await plain.readText().hasPrefix("[\"live\", {\"channel\": \"z\""))

            let text = String(repeating: "compress me ", count: 50)
            try await raw.send(opcode: 0x1, Self.deflate(Array(text.utf8)), reserved: 0x40)
            let rawFrame = try await raw.read()
            #expect(rawFrame.opcode == 0x1 && rawFrame.compressed)
            #expect(rawFrame.payload.count < text.utf8.count / 4)
            #expect(try Self.inflate(rawFrame) == text)
            let jsonFrame = try await json.read()
            #expect(jsonFrame.compressed)
            #expect(try Self.inflate(jsonFrame) == riverMessage("z", 1, "\"\(text)\""))
            #expect(try await plain.read() == TestWebSocket.Frame(opcode: 0x1, payload: Array(text.utf8)))
            // `/stats` counts what compression took in and gave out (each message once per format and loop).
            let stats = try await river.request("GET", "/stats").body
            let compression = try #require(stats.range(of: #""compression": {"#)).upperBound
            let figures = stats[compression...].prefix { $0 != "}" }.split(separator: ",").map {
                Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) ?? -1
            }
            #expect(figures.count == 3 && figures[0] >= 2, "\(stats)")
            #expect(figures.count == 3 && figures[1] > 600 && figures[2] < figures[1] / 4, "\(stats)")

            // Fragmented: RSV1 on the first frame only.
            let compressed = Self.deflate(Array("two parts".utf8))
            try await raw.send(opcode: 0x1, Array(compressed.prefix(3)), fin: false, reserved: 0x40)
            try await raw.send(opcode: 0x0, Array(compressed.dropFirst(3)))
            #expect(try Self.inflate(try await raw.read()) == "two parts")
            // An uncompressed message on a compressed connection is fine too.
            try await raw.send(text: "as is")
            #expect(try Self.inflate(try await raw.read()) == "as is")
        }
    }

    @Test func aMessageThatInflatesPastTheLimitClosesWith1009() async throws {
        try await withRiver(.inProcess, configured { $0.maxMessageSize = 64 * 1024 }) { river in
            let bystander = try await river.webSocket("/websocket?name=bomb&format=raw")
            let socket = try await river.webSocket("/websocket?name=bomb&format=raw", headers: [Self.offer])
            // 16 MiB of zeros deflate to about 16 KB, well under the frame limit.
            let bomb = Self.deflate(Array(repeating: 0, count: 16 << 20))
            #expect(bomb.count < 64 * 1024)
            try await socket.send(opcode: 0x2, bomb, reserved: 0x40)
            #expect(try await socket.read().closeCode == 1009)
            try await bystander.send(text: "unharmed")
            #expect(try await bystander.readText() == "unharmed")
        }
    }

    @Test func corruptDeflateDataClosesWith1002() async throws {
        try await withRiver { river in
            let socket = try await river.webSocket("/websocket?name=junk", headers: [Self.offer])
            try await socket.send(opcode: 0x1, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF], reserved: 0x40)
            #expect(try await socket.read().closeCode == 1002)
        }
    }
}
