import NIOCore
import Testing

@testable import RiverRedisEngine

/// The RESP2 codec on its own: every reply type, split anywhere.
@Suite struct RESPTests {
    static let replies: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR wrong\r\n", .error("ERR wrong")),
        (":-42\r\n", .integer(-42)),
        ("$5\r\nhe\r\no\r\n", .bulkString(ByteBuffer(string: "he\r\no"))),
        ("$0\r\n\r\n", .bulkString(ByteBuffer())),
        ("$-1\r\n", .bulkString(nil)),
        ("*-1\r\n", .array(nil)),
        (
            "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n*2\r\n:1\r\n$2\r\nhi\r\n",
            .array([
                .bulkString(ByteBuffer(string: "message")), .bulkString(ByteBuffer(string: "room")),
                .array([.integer(1), .bulkString(ByteBuffer(string: "hi"))]),
            ])
        ),
    ]

    @Test(arguments: replies)
    func decodesEveryTypeWhateverTheSplit(text: String, expected: RESPValue) throws {
        let bytes = Array(text.utf8)
        let decoder = RESPDecoder()
        for split in 0...bytes.count {
            var head = ByteBuffer(bytes: bytes[..<split])
            if split < bytes.count {
                #expect(try decoder.parse(&head, depth: 0) == nil, "incomplete at \(split)")
            }
            var whole = ByteBuffer(bytes: bytes)
            #expect(try decoder.parse(&whole, depth: 0) == expected)
            #expect(whole.readableBytes == 0)
        }
    }

    @Test(arguments: ["?x\r\n", ":12a\r\n", "$99999999999\r\n", "$2\r\nabcd", "*2000000\r\n"])
    func refusesMalformedReplies(text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: RESPDecoder.ProtocolError.self) { try RESPDecoder().parse(&buffer, depth: 0) }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPCommand("SET", [.text("k é"), .bytes(ByteBuffer(string: "a\r\nb")), .integer(-7)]).write(into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$3\r\nSET\r\n$4\r\nk é\r\n$4\r\na\r\nb\r\n$2\r\n-7\r\n")
    }

    @Test(arguments: [
        ("redis://10.0.0.5:6380/2", RedisAddress(host: "10.0.0.5", port: 6380, database: 2)),
        ("redis://cache", RedisAddress(host: "cache")),
        ("redis://:s3cret@[::1]:7000", RedisAddress(host: "::1", port: 7000, password: "s3cret")),
    ])
    func addressesParse(url: String, expected: RedisAddress) throws {
        #expect(try RedisAddress(url) == expected)
    }

    @Test(arguments: ["http://x", "redis://", "redis://h:0", "redis://h:6379/x"])
    func badAddressesAreRefused(url: String) {
        #expect(throws: RedisAddress.ParseError.self) { try RedisAddress(url) }
    }
}
