import NIOCore
import NIOEmbedded
import RiverTesting
import Testing

@testable import RiverServer

/// `WebSocketConnectionHandler` in an `EmbeddedChannel`, on exact bytes: the
/// handshake goes through the real `HTTPConnectionHandler`, which hands the
/// connection over; then client frames in (masked), server frames out.
@Suite struct WebSocketConnectionHandlerTests {
    /// The answer to `TestWebSocket.handshakeHeaders` (RFC 6455 section 1.3's key).
    static let switchingProtocols =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

    /// One connection to a server whose only event loop is the channel's.
    struct Connection {
        let channel: EmbeddedChannel
        let server: EmbeddedServer

        /// A plain HTTP connection.
        init(_ server: EmbeddedServer) throws {
            self.server = server
            self.channel = try server.connect()
        }

        /// Sends `bytes` and runs the loop; returns everything written back.
        func exchange(_ bytes: [UInt8]) throws -> [UInt8] {
            try self.channel.writeInbound(ByteBuffer(bytes: bytes))
            return try self.output()
        }

        func output() throws -> [UInt8] {
            self.channel.embeddedEventLoop.run()
            var bytes: [UInt8] = []
            while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
                bytes += buffer.readableBytesView
            }
            return bytes
        }

        var isOpen: Bool { self.channel.isActive }
    }

    /// A WebSocket on `server` at `path`, its handshake answered and checked.
    static func webSocket(_ server: EmbeddedServer, _ path: String) throws -> Connection {
        let connection = try Connection(server)
        let answer = try connection.exchange(Self.handshake(path))
        #expect(String(decoding: answer, as: UTF8.self) == Self.switchingProtocols)
        return connection
    }

    static func handshake(_ path: String) -> [UInt8] {
        TestConnection.request("GET", path, headers: TestWebSocket.handshakeHeaders)
    }

    /// A server frame: final, unmasked, short.
    static func serverFrame(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126)
        return [0x80 | opcode, UInt8(payload.count)] + payload
    }

    static func serverText(_ text: String) -> [UInt8] { Self.serverFrame(0x1, Array(text.utf8)) }

    static func serverClose(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        Self.serverFrame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }

    /// A masked client frame.
    static func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        TestWebSocket.frame(opcode: opcode, payload, fin: fin)
    }

    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16, uppercase: true) + "\r\n" + text + "\r\n"
    }

    @Test func aTextFrameIsPublishedToTheChannelsSubscribers() throws {
        let server = try EmbeddedServer(.testing)
        let stream = try Connection(server)
        let head = try stream.exchange(Array("GET /subscribe?name=room&hello=1 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK\r\n"))
        let socket = try Self.webSocket(server, "/websocket?name=room")

        let message = riverMessage("room", 1, "\"hi\"")
        #expect(try socket.exchange(Self.clientFrame(0x1, Array("hi".utf8))) == Self.serverText(message))
        #expect(String(decoding: try stream.output(), as: UTF8.self) == Self.chunk(message))
        #expect(socket.isOpen)
    }

    @Test func aPingIsAnsweredWithAPongOfItsPayload() throws {
        let socket = try Self.webSocket(try EmbeddedServer(.testing), "/websocket?name=p")
        #expect(
            try socket.exchange(Self.clientFrame(0x9, Array("are you there".utf8)))
                == [0x8A, 13] + Array("are you there".utf8)
        )
        #expect(socket.isOpen)
    }

    @Test(arguments: [1000 as UInt16, 3000, 4999])
    func aCloseIsAnsweredWithItsCodeThenTheConnectionCloses(code: UInt16) throws {
        let socket = try Self.webSocket(try EmbeddedServer(.testing), "/websocket?name=bye")
        let payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array("done".utf8)
        #expect(try socket.exchange(Self.clientFrame(0x8, payload)) == Self.serverClose(code))
        #expect(!socket.isOpen)
    }

    @Test func aFrameOverMaxMessageSizeFailsWith1009() throws {
        let server = try EmbeddedServer(configured { $0.maxMessageSize = 1000 })
        let socket = try Self.webSocket(server, "/websocket?name=big")
        // The header alone says 1001 bytes: refused before the payload arrives.
        let header: [UInt8] = [0x81, 0x80 | 126, 0x03, 0xE9, 0x12, 0x34, 0x56, 0x78]
        #expect(try socket.exchange(header) == Self.serverClose(1009, "message larger than 1000 bytes"))
        #expect(socket.isOpen, "waiting for the client's close")
        // The client does not answer: the socket closes two ticks later.
        server.advance(by: .seconds(1))
        #expect(socket.isOpen)
        server.advance(by: .seconds(2))
        #expect(try socket.output() == [])
        #expect(!socket.isOpen)
    }

    @Test func aFrameAtMaxMessageSizeIsPublished() throws {
        let server = try EmbeddedServer(configured { $0.maxMessageSize = 1000 })
        let socket = try Self.webSocket(server, "/websocket?name=big&format=raw")
        let payload = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        #expect(try socket.exchange(Self.clientFrame(0x1, payload)) == [0x81, 126, 0x03, 0xE8] + payload)
    }

    @Test func readsAreHeldWhileOutputIsUnwritable() throws {
        let socket = try Self.webSocket(try EmbeddedServer(.testing), "/websocket?name=slow")
        let reads = ReadCounter()
        try socket.channel.pipeline.syncOperations.addHandler(reads, position: .first)
        socket.channel.read()
        #expect(reads.count == 1, "writable: the read goes through")

        socket.channel.isWritable = false
        socket.channel.pipeline.fireChannelWritabilityChanged()
        socket.channel.read()
        socket.channel.read()
        #expect(reads.count == 1, "unwritable: reads are held")

        socket.channel.isWritable = true
        socket.channel.pipeline.fireChannelWritabilityChanged()
        #expect(reads.count == 2, "writable again: one held read goes through")
        #expect(try socket.output() == [])
    }

    @Test func framesSentWithTheHandshakeAreHandledOnceSubscribed() throws {
        let server = try EmbeddedServer(.testing)
        let connection = try Connection(server)
        // The handshake and two frames in one read: they are handled in order once the
        // subscription is in place, so the message reaches the sender's own subscription too.
        // (On this one loop the memory engine subscribes at once; the wait itself is for an
        // asynchronous subscription: WebSocketTests, live on four loops.)
        let bytes =
            Self.handshake("/websocket?name=early")
            + Self.clientFrame(0x9, Array("p".utf8))
            + Self.clientFrame(0x1, Array("first".utf8))
        let expected =
            Array(Self.switchingProtocols.utf8)
            + Self.serverFrame(0xA, Array("p".utf8))
            + Self.serverText(riverMessage("early", 1, "\"first\""))
        #expect(try connection.exchange(bytes) == expected)
    }

    @Test func closingGivesTheConnectionSlotBack() throws {
        let server = try EmbeddedServer(configured { $0.maxConnections = 1 })
        let socket = try Self.webSocket(server, "/websocket?name=slot")

        let refused = try Connection(server)
        #expect(String(decoding: try refused.output(), as: UTF8.self).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))

        #expect(try socket.exchange(Self.clientFrame(0x8, [0x03, 0xE8])) == Self.serverClose(1000))
        #expect(!socket.isOpen)
        let next = try Connection(server)
        #expect(
            String(decoding: try next.exchange(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)), as: UTF8.self)
                .hasPrefix("HTTP/1.1 200 OK\r\n")
        )
    }

    @Test func theClientGoingAwayGivesTheSlotBackToo() throws {
        let server = try EmbeddedServer(configured { $0.maxConnections = 1 })
        let socket = try Self.webSocket(server, "/websocket?name=slot")
        try socket.channel.close().wait()
        let next = try Connection(server)
        #expect(
            String(decoding: try next.exchange(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)), as: UTF8.self)
                .hasPrefix("HTTP/1.1 200 OK\r\n")
        )
    }
}

/// Counts the reads that reach the head of the pipeline (the socket).
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny

    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        self.count += 1
        context.read()
    }
}

@available(*, unavailable)
extension ReadCounter: Sendable {}
