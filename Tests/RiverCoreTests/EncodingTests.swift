import NIOCore
import Testing

@testable import RiverCore

/// The wire encodings, byte for byte.
@Suite struct EncodingTests {
    let channel = try! ChannelName(validating: "room", maxBytes: 64)

    func message(_ seq: UInt64, _ payload: String) -> Message {
        Message(channel: self.channel, seq: seq, payload: ByteBuffer(string: payload), publishedAt: .now())
    }

    @Test(arguments: [
        ("plain", "\"plain\""),
        ("q\"b\\s/", "\"q\\\"b\\\\s/\""),
        ("\n\r\t\u{8}\u{C}", "\"\\n\\r\\t\\b\\f\""),
        ("\u{0}\u{1}\u{1F}", "\"\\u0000\\u0001\\u001f\""),
        ("é中🚀\u{7F}", "\"é中🚀\u{7F}\""),
        ("\u{2028}x\u{2029}", "\"\\u2028x\\u2029\""),
        ("", "\"\""),
    ])
    func jsonStringEscaping(input: String, expected: String) {
        var buffer = ByteBuffer()
        JSONString.write(ByteBuffer(string: input), into: &buffer)
        #expect(String(buffer: buffer) == expected)
        #expect(JSONString.literal(input) == expected)
        #expect(JSONString.encodedLength(input) == buffer.readableBytes)
    }

    @Test func decimalWriting() {
        var buffer = ByteBuffer()
        for value: UInt64 in [0, 7, 10, 99, 1000, UInt64.max] {
            buffer.writeDecimal(value)
            buffer.writeStaticString(",")
        }
        #expect(String(buffer: buffer) == "0,7,10,99,1000,18446744073709551615,")
    }

    @Test func riverJSONMatchesTheOriginalByteForByte() {
        var buffer = ByteBuffer()
        RiverJSON.writeMessage(self.message(17, "hello"), into: &buffer)
        #expect(String(buffer: buffer) == "[\"msg\", {\"channel\": \"room\", \"seq\": 17, \"data\": \"hello\"}]")
        buffer.clear()
        RiverJSON.writeNotice(.lost(from: 3, to: 9), channel: self.channel, into: &buffer)
        #expect(String(buffer: buffer) == "[\"lost\", {\"channel\": \"room\", \"from\": 3, \"to\": 9}]")
        buffer.clear()
        RiverJSON.writeNotice(.reset(current: 4, epoch: 77), channel: self.channel, into: &buffer)
        #expect(String(buffer: buffer) == "[\"reset\", {\"channel\": \"room\", \"seq\": 4, \"epoch\": 77}]")
        buffer.clear()
        RiverJSON.writeNotice(.live(seq: 2, epoch: 77), channel: self.channel, into: &buffer)
        #expect(String(buffer: buffer) == "[\"live\", {\"channel\": \"room\", \"seq\": 2, \"epoch\": 77}]")
    }

    @Test(arguments: [
        ([] as [UInt8], ""), ([0x66], "Zg=="), ([0x66, 0x6F], "Zm8="), ([0x66, 0x6F, 0x6F], "Zm9v"),
        ([0x00, 0xFF, 0xC3, 0x28], "AP/DKA=="),
    ])
    func base64MatchesRFC4648(bytes: [UInt8], expected: String) {
        var buffer = ByteBuffer()
        Base64.write(ByteBuffer(bytes: bytes), into: &buffer)
        #expect(String(buffer: buffer) == expected)
        #expect(Base64.encode(bytes) == expected)
        #expect(Base64.encodedLength(bytes.count) == expected.utf8.count)
    }

    @Test func binaryMessagesAreBase64WhereAFormatNeedsTextAndBytesWhereNot() {
        let message = Message(
            channel: self.channel,
            seq: 3,
            payload: ByteBuffer(bytes: [0x00, 0xFF, 0x0A]),
            isBinary: true,
            publishedAt: .now()
        )
        let encoded = EncodedMessage(message, allocator: ByteBufferAllocator(), deflater: PerMessageDeflater())
        #expect(
            String(buffer: encoded.bytes(.json))
                == "[\"msg\", {\"channel\": \"room\", \"seq\": 3, \"data\": \"AP8K\", \"encoding\": \"base64\"}]"
        )
        #expect(String(buffer: encoded.bytes(.eventStream)) == "event: binary\nid: 3\ndata: AP8K\n\n")
        #expect(Array(encoded.bytes(.webSocketRaw).readableBytesView) == [0x82, 0x03, 0x00, 0xFF, 0x0A])
        #expect(
            Array(encoded.bytes(.rawChunk).readableBytesView) == Array("3\r\n".utf8) + [0x00, 0xFF, 0x0A, 0x0D, 0x0A]
        )
        let text = EncodedMessage(
            self.message(4, "hi"),
            allocator: ByteBufferAllocator(),
            deflater: PerMessageDeflater()
        )
        #expect(Array(text.bytes(.webSocketRaw).readableBytesView) == [0x81, 0x02] + Array("hi".utf8))
        // Compressed once: the same buffer again, and a frame per window.
        let deflated = text.bytes(.webSocketDeflated(raw: true, windowBits: 15))
        #expect(deflated.readableBytesView.first == 0xC1)
        let again = text.bytes(.webSocketDeflated(raw: true, windowBits: 15))
        #expect(again.withUnsafeReadableBytes { $0.baseAddress } == deflated.withUnsafeReadableBytes { $0.baseAddress })
        #expect(text.bytes(.webSocketDeflated(raw: false, windowBits: 15)) != deflated)
    }

    @Test(arguments: [0, 1, 15, 16, 255, 256, 4095, 70000])
    func chunkFramingWritesTheHeaderInFront(length: Int) {
        let body = String(repeating: "z", count: length)
        let chunk = ChunkFraming.makeChunk(capacity: 8, allocator: ByteBufferAllocator()) { $0.writeString(body) }
        #expect(String(buffer: chunk) == String(length, radix: 16, uppercase: true) + "\r\n" + body + "\r\n")
    }

    @Test func encodedMessageFormatsShareOneEncoding() {
        let encoded = EncodedMessage(
            self.message(5, "a\nb"),
            allocator: ByteBufferAllocator(),
            deflater: PerMessageDeflater()
        )
        let json = "[\"msg\", {\"channel\": \"room\", \"seq\": 5, \"data\": \"a\\nb\"}]"
        #expect(String(buffer: encoded.bytes(.json)) == json)
        #expect(String(buffer: encoded.bytes(.line)) == json + "\r\n")
        #expect(
            String(buffer: encoded.bytes(.chunk)) == String(json.utf8.count, radix: 16, uppercase: true) + "\r\n" + json
                + "\r\n"
        )
        #expect(String(buffer: encoded.bytes(.eventStream)) == "id: 5\ndata: a\ndata: b\n\n")
        var frame = encoded.bytes(.webSocketText)
        #expect(frame.readInteger(as: UInt8.self) == 0x81)
        #expect(frame.readInteger(as: UInt8.self) == UInt8(json.utf8.count))
        #expect(String(buffer: frame) == json)
        // The same storage every time: built once.
        #expect(
            encoded.bytes(.chunk).withUnsafeReadableBytes { $0.baseAddress }
                == encoded.bytes(.chunk).withUnsafeReadableBytes { $0.baseAddress }
        )
    }

    @Test(arguments: [
        ("one", "data: one\n\n"),
        ("a\r\nb\rc\nd", "data: a\ndata: b\ndata: c\ndata: d\n\n"),
        ("trailing\n", "data: trailing\ndata: \n\n"),
        ("", "data: \n\n"),
    ])
    func eventStreamSplitsLines(payload: String, expected: String) {
        var buffer = ByteBuffer()
        EventStreamFraming.writeEvent(id: nil, event: nil, data: ByteBuffer(string: payload), into: &buffer)
        #expect(String(buffer: buffer) == expected)
    }

    @Test(arguments: [0, 125, 126, 65535, 65536])
    func webSocketHeaderLengths(length: Int) {
        var buffer = ByteBuffer()
        WebSocketFraming.writeHeader(opcode: .text, length: length, into: &buffer)
        let expected: [UInt8]
        switch length {
        case ..<126: expected = [0x81, UInt8(length)]
        case ...0xFFFF: expected = [0x81, 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        default: expected = [0x81, 127] + (0..<8).reversed().map { UInt8((length >> ($0 * 8)) & 0xFF) }
        }
        #expect(Array(buffer.readableBytesView) == expected)
    }

    /// A close frame is a control frame: at most 125 bytes of payload (RFC 6455
    /// section 5.5), so a long reason (a channel and a Redis shard) is cut,
    /// never inside a character.
    @Test(arguments: [(0, 0), (123, 123), (124, 123), (400, 123)])
    func closeFrameReasonsFitAControlFrame(length: Int, kept: Int) {
        let reason = String(repeating: "r", count: length)
        let frame = WebSocketFraming.closeFrame(code: 1011, reason: reason, allocator: ByteBufferAllocator())
        #expect(
            Array(frame.readableBytesView) == [0x88, UInt8(2 + kept), 0x03, 0xF3] + Array(reason.utf8.prefix(kept))
        )
        // 122 ASCII bytes then "é" (2 bytes): the "é" would end at byte 124, so it goes.
        let accented = WebSocketFraming.closeFrame(
            code: 1011,
            reason: String(repeating: "r", count: 122) + "\u{e9}",
            allocator: ByteBufferAllocator()
        )
        #expect(accented.readableBytes == 2 + 2 + 122)
    }

    @Test(
        arguments: [
            ([0x61, 0x62], true),
            ([0xC3, 0xA9], true),
            ([0xF0, 0x9F, 0x9A, 0x80], true),
            ([0xC3], false),
            ([0xC0, 0xAF], false),  // overlong
            ([0xED, 0xA0, 0x80], false),  // surrogate
            ([0xF4, 0x90, 0x80, 0x80], false),  // above U+10FFFF
            ([0xFF], false),
            (Array("0123456789abcdef\u{e9}".utf8), true),
        ] as [([UInt8], Bool)]
    )
    func utf8Validation(bytes: [UInt8], valid: Bool) {
        #expect(bytes.withUnsafeBytes { UTF8Validation.isValid($0) } == valid)
    }
}
