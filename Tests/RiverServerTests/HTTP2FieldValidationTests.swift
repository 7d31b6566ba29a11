import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import RiverTesting
import Testing

@testable import RiverServer

/// River checks the peer's header blocks itself (`HTTP2FieldValidation`, with
/// swift-nio-http2's own check switched off for speed). Here the two are held
/// side by side: every block goes, as HPACK bytes on a fresh connection, to a
/// `NIOHTTP2Handler` that validates (its verdict) and to one that does not
/// (what it decoded, which River then judges); they must agree on every block.
@Suite struct HTTP2FieldValidationTests {
    /// The rules one by one: each block malformed in exactly one way, and well-formed ones.
    static let namedBlocks: [(String, [(String, String)])] = [
        ("well formed", Self.request()),
        ("well formed, te: trailers", Self.request() + [("te", "trailers")]),
        ("well formed, no :authority", Self.request().filter { $0.0 != ":authority" }),
        ("well formed, obs-text and spaces in a value", Self.request() + [("x-note", " caf\u{e9} ")]),
        ("CONNECT", [(":method", "CONNECT"), (":authority", "river.test")]),
        (
            "extended CONNECT",
            [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/websocket")]
        ),
        ("CONNECT with a :path", [(":method", "CONNECT"), (":authority", "river.test"), (":path", "/")]),
        ("CONNECT without :authority", [(":method", "CONNECT")]),
        (":protocol without CONNECT", Self.request() + [(":protocol", "websocket")]),
        ("no :method", Self.request().filter { $0.0 != ":method" }),
        ("no :scheme", Self.request().filter { $0.0 != ":scheme" }),
        ("no :path", Self.request().filter { $0.0 != ":path" }),
        ("empty :path", Self.request(path: "")),
        ("a space in :path", Self.request(path: "/publish?name=a b")),
        ("a tab in :method", [(":method", "GE\tT")] + Self.request().dropFirst()),
        ("DEL in :path", Self.request(path: "/a\u{7f}")),
        ("repeated :path", Self.request() + [(":path", "/other")]),
        ("pseudo-header after a field", [("accept", "*/*")] + Self.request()),
        (":status in a request", Self.request() + [(":status", "200")]),
        ("unknown pseudo-header", Self.request() + [(":verb", "GET")]),
        ("a lone colon", Self.request() + [(":", "x")]),
        ("upper-case name", Self.request() + [("X-Upper", "1")]),
        ("a space in a name", Self.request() + [("x name", "1")]),
        ("a colon in a name", Self.request() + [("x:name", "1")]),
        ("connection", Self.request() + [("connection", "close")]),
        ("keep-alive", Self.request() + [("keep-alive", "timeout=5")]),
        ("proxy-connection", Self.request() + [("proxy-connection", "keep-alive")]),
        ("transfer-encoding", Self.request() + [("transfer-encoding", "chunked")]),
        ("upgrade", Self.request() + [("upgrade", "websocket")]),
        ("te: gzip", Self.request() + [("te", "gzip")]),
        ("CR in a value", Self.request() + [("x-note", "a\rb")]),
        ("LF in a value", Self.request() + [("x-note", "a\nb")]),
        ("NUL in a value", Self.request() + [("x-note", "a\u{0}b")]),
    ]

    static func request(path: String = "/publish?name=a") -> [(String, String)] {
        [(":method", "GET"), (":scheme", "https"), (":path", path), (":authority", "river.test")]
    }

    @Test func eachRuleAsSwiftNIOHTTP2Has() throws {
        var refused = 0
        for (name, block) in Self.namedBlocks {
            let verdicts = try Self.verdicts(block)
            #expect(verdicts.river == verdicts.nio, "\(name): River \(verdicts.river), swift-nio-http2 \(verdicts.nio)")
            if !verdicts.nio { refused += 1 }
        }
        #expect(refused == Self.namedBlocks.count - 6, "all but the six well-formed blocks are refused")
    }

    /// Blocks drawn at random from fields near the rules' edges, in any order. (An empty name
    /// is HPACK's to refuse, as a connection error, before either check.)
    @Test func randomBlocksAsSwiftNIOHTTP2Has() throws {
        let names = [
            ":method", ":scheme", ":path", ":authority", ":protocol", ":status", ":x", "accept", "user-agent", "te",
            "connection",
            "upgrade", "X-Up", "x y", "content-type", "cookie", "host",
        ]
        let values = [
            "GET", "CONNECT", "https", "/", "/p?q=1", "", "trailers", "gzip", "a b", "\u{e9}", "a\rb", "x\u{0}",
        ]
        var generator = SplitMix64(seed: 22)
        var agreed = (accepted: 0, refused: 0)
        var plainPublishes = 0
        for _ in 0..<1500 {
            var block = Self.request()
            block.shuffle(using: &generator)
            for _ in 0..<Int.random(in: 0...3, using: &generator) {
                let field = (names.randomElement(using: &generator)!, values.randomElement(using: &generator)!)
                block.insert(field, at: Int.random(in: 0...block.count, using: &generator))
            }
            if Bool.random(using: &generator) { block.remove(at: Int.random(in: 0..<block.count, using: &generator)) }
            let verdicts = try Self.verdicts(block)
            #expect(
                verdicts.river == verdicts.nio,
                "\(block): River \(verdicts.river), swift-nio-http2 \(verdicts.nio)"
            )
            // A publish taken by the fast path (which checks its own block) is one NIO takes.
            if HTTP2ConnectionHandler.plainPublishHead(HPACKHeaders(block), limits: .init()) != nil {
                #expect(verdicts.nio, "\(block) taken as a plain publish")
                plainPublishes += 1
            }
            if verdicts.nio { agreed.accepted += 1 } else { agreed.refused += 1 }
        }
        // (Both kinds drawn often enough to mean something.)
        #expect(agreed.accepted > 100 && agreed.refused > 100 && plainPublishes > 50, "\(agreed), \(plainPublishes)")
    }

    /// RFC 8441: `:protocol` only once the peer has acknowledged the SETTINGS that allow it.
    @Test func anExtendedConnectWaitsForTheSettingsToBeAcknowledged() throws {
        let extendedConnect = Self.namedBlocks.first { $0.0 == "extended CONNECT" }!.1
        #expect(try Self.verdicts(extendedConnect, acknowledged: false) == (nio: false, river: false))
        #expect(try Self.verdicts(extendedConnect, acknowledged: true) == (nio: true, river: true))
        #expect(try Self.verdicts(Self.request(), acknowledged: false) == (nio: true, river: true))
    }

    /// Trailers: no pseudo-header, and each field as in a request (over a socket:
    /// `HTTP2Tests.aMalformedRequestResetsOnlyItsStream`).
    @Test func trailersHoldNoPseudoHeaderAndOnlyValidFields() throws {
        for (trailers, wellFormed) in [
            ([("x-checksum", "1")], true), ([(":path", "/")], false), ([("Upper", "1")], false),
            ([("connection", "close")], false), ([("x-checksum", "a\nb")], false),
        ] {
            #expect((HTTP2FieldValidation.trailersFault(HPACKHeaders(trailers)) == nil) == wellFormed, "\(trailers)")
        }
    }

    /// Whether swift-nio-http2's validation takes `block`, and whether River's takes it as NIO decoded it.
    /// `acknowledged`: the client acknowledges the server's SETTINGS before the request.
    static func verdicts(_ block: [(String, String)], acknowledged: Bool = true) throws -> (nio: Bool, river: Bool) {
        var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
        var encoded = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders(block), to: &encoded)
        typealias Client = TestHTTP2Connection
        var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        bytes += Client.frame(type: Client.FrameType.settings, flags: 0, stream: 0, payload: [])
        if acknowledged {  // (the client's ACK of the server's SETTINGS)
            bytes += Client.frame(type: Client.FrameType.settings, flags: 0x1, stream: 0, payload: [])
        }
        bytes += Client.frame(
            type: Client.FrameType.headers,
            flags: 0x5,
            stream: 1,
            payload: Array(encoded.readableBytesView)
        )
        let nio = try Self.decode(ByteBuffer(bytes: bytes), validating: true)
        let decoded = try Self.decode(ByteBuffer(bytes: bytes), validating: false)
        let river = decoded.map { HTTP2FieldValidation.requestFault($0, extendedConnect: acknowledged) == nil } ?? false
        return (nio != nil, river)
    }

    /// The request block a server handler passes on, nil when it refuses it.
    private static func decode(_ bytes: ByteBuffer, validating: Bool) throws -> HPACKHeaders? {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.headerBlockValidation = validating ? .enabled : .disabled
        connection.contentLengthValidation = .disabled
        connection.initialSettings = [HTTP2Setting(parameter: .enableConnectProtocol, value: 1)]
        let channel = EmbeddedChannel(
            handler: NIOHTTP2Handler(mode: .server, connectionConfiguration: connection, streamConfiguration: .init())
        )
        defer { _ = try? channel.finish() }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        do {
            try channel.writeInbound(bytes)
        } catch {
            // Refused: the request's stream reset (a connection error would be a GOAWAY).
            let written = try Self.framesWritten(by: channel)
            #expect(
                written.contains(where: { $0 == (TestHTTP2Connection.FrameType.rstStream, 1) }),
                "\(error) \(written)"
            )
            return nil
        }
        while let frame = try channel.readInbound(as: HTTP2Frame.self) {
            if case .headers(let headers) = frame.payload { return headers.headers }
        }
        return nil
    }

    /// The type and stream of each frame the server wrote.
    private static func framesWritten(by channel: EmbeddedChannel) throws -> [(UInt8, UInt32)] {
        var bytes = ByteBuffer()
        while let written = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(var buffer) = written else { continue }
            bytes.writeBuffer(&buffer)
        }
        var frames: [(UInt8, UInt32)] = []
        while bytes.readableBytes >= 9, let lengthAndType = bytes.readInteger(as: UInt32.self),
            let _ = bytes.readInteger(as: UInt8.self), let stream = bytes.readInteger(as: UInt32.self)
        {
            frames.append((UInt8(lengthAndType & 0xFF), stream & 0x7FFF_FFFF))
            bytes.moveReaderIndex(forwardBy: min(Int(lengthAndType >> 8), bytes.readableBytes))
        }
        return frames
    }
}
