import NIOCore
import NIOHPACK

/// An HTTP/2 client frame by frame over a `TestConnection` (in-process or
/// live, h2c by prior knowledge or over TLS after ALPN `h2`): requests on
/// chosen stream IDs, resets, window updates, and the server's frames as
/// they come. Only HPACK is borrowed (NIOHPACK); every frame is written
/// and read here, so a test can also send what a well-behaved client never would.
public final class TestHTTP2Connection {
    /// One frame as read (RFC 9113 section 4.1).
    public struct Frame: Sendable {
        public let type: UInt8
        public let flags: UInt8
        public let stream: UInt32
        public let payload: [UInt8]

        public var endStream: Bool { self.flags & 0x1 != 0 }
    }

    /// Frame types (RFC 9113 section 6).
    public enum FrameType {
        public static let data: UInt8 = 0x0
        public static let headers: UInt8 = 0x1
        public static let rstStream: UInt8 = 0x3
        public static let settings: UInt8 = 0x4
        public static let ping: UInt8 = 0x6
        public static let goAway: UInt8 = 0x7
        public static let windowUpdate: UInt8 = 0x8
    }

    /// A response's head and body as collected from its stream's frames.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: String

        public func header(_ name: String) -> String? {
            self.headers.first(where: { $0.0 == name })?.1
        }
    }

    public let connection: TestConnection
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    /// Frames read but not yet asked for, in order.
    private var unclaimed: [Frame] = []
    /// WebSocket bytes read from each stream's DATA, not yet a whole frame.
    private var webSocketBytes: [UInt32: [UInt8]] = [:]
    /// The server's SETTINGS, by identifier, once read.
    public private(set) var serverSettings: [UInt16: UInt32] = [:]

    /// Sends the connection preface and SETTINGS (`settings`: identifier → value).
    public init(_ connection: TestConnection, settings: [(UInt16, UInt32)] = []) async throws {
        self.connection = connection
        try await connection.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        var payload: [UInt8] = []
        for (identifier, value) in settings {
            payload +=
                HTTP1OverHTTP2.bigEndian(UInt32(identifier), count: 2) + HTTP1OverHTTP2.bigEndian(value, count: 4)
        }
        try await self.send(type: FrameType.settings, flags: 0, stream: 0, payload: payload)
    }

    /// Sends one frame.
    public func send(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) async throws {
        try await self.connection.send(Self.frame(type: type, flags: flags, stream: stream, payload: payload))
    }

    /// One frame's bytes (RFC 9113 section 4.1), for a test that hands them to a handler itself.
    public static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        HTTP1OverHTTP2.frame(type, flags, stream & 0x7FFF_FFFF, payload)
    }

    /// Opens `stream` with a request; its body, if any, follows in one DATA frame.
    /// `open`: no body and no END_STREAM (the body the head announces is still to come).
    public func request(
        stream: UInt32,
        _ method: String,
        _ path: String,
        headers: [(String, String)] = [],
        body: String? = nil,
        open: Bool = false,
        authority: String = "river.test"
    ) async throws {
        let fields = [(":method", method), (":scheme", "https"), (":path", path), (":authority", authority)]
        try await self.sendHeaders(stream: stream, fields + headers, endStream: body == nil && !open)
        if let body {
            try await self.send(type: FrameType.data, flags: 0x1, stream: stream, payload: Array(body.utf8))
        }
    }

    /// One HEADERS frame on `stream` holding `fields` as given, in order (a request, or trailers).
    public func sendHeaders(stream: UInt32, _ fields: [(String, String)], endStream: Bool) async throws {
        var block = ByteBuffer()
        try self.encoder.encode(headers: HPACKHeaders(fields), to: &block)
        try await self.send(
            type: FrameType.headers,
            flags: 0x4 | (endStream ? 0x1 : 0),
            stream: stream,
            payload: Array(block.readableBytesView)
        )
    }

    /// Opens `stream` as a WebSocket by extended CONNECT (RFC 8441 section 4):
    /// `:method CONNECT`, `:protocol websocket`, `sec-websocket-version: 13`; the
    /// stream stays open for the frames. As RFC 8441 section 3 asks, only once
    /// the server's SETTINGS has come (a `:protocol` before it is reset).
    public func connectWebSocket(
        stream: UInt32,
        _ path: String,
        protocol name: String = "websocket",
        headers: [(String, String)] = [],
        authority: String = "river.test"
    ) async throws {
        try await self.awaitSettings()
        var fields: HPACKHeaders = [
            ":method": "CONNECT", ":protocol": name, ":scheme": "https", ":path": path, ":authority": authority,
            "sec-websocket-version": "13",
        ]
        for (name, value) in headers { fields.add(name: name, value: value) }
        var block = ByteBuffer()
        try self.encoder.encode(headers: fields, to: &block)
        try await self.send(
            type: FrameType.headers,
            flags: 0x4,
            stream: stream,
            payload: Array(block.readableBytesView)
        )
    }

    /// One masked WebSocket frame (FIN set) in a DATA frame on `stream`.
    public func sendWebSocket(stream: UInt32, opcode: UInt8 = 0x1, _ payload: [UInt8]) async throws {
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126] + HTTP1OverHTTP2.bigEndian(UInt32(payload.count), count: 2)
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await self.send(type: FrameType.data, flags: 0, stream: stream, payload: frame)
    }

    /// The next whole WebSocket frame from the server on `stream`, from its DATA frames.
    public func webSocketFrame(stream: UInt32) async throws -> (opcode: UInt8, payload: [UInt8]) {
        while true {
            let bytes = self.webSocketBytes[stream, default: []]
            if bytes.count >= 2 {
                var length = Int(bytes[1] & 0x7F)
                var offset = 2
                if length == 126, bytes.count >= 4 {
                    length = Int(bytes[2]) << 8 | Int(bytes[3])
                    offset = 4
                } else if length == 127, bytes.count >= 10 {
                    length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    offset = 10
                }
                if length < 126 || offset > 2, bytes.count >= offset + length {
                    self.webSocketBytes[stream] = Array(bytes[(offset + length)...])
                    return (bytes[0] & 0x0F, Array(bytes[offset..<(offset + length)]))
                }
            }
            let frame = try await self.nextFrame(on: stream)
            guard frame.type == FrameType.data else {
                throw TestFailure("stream \(stream): frame type \(frame.type) while reading WebSocket frames")
            }
            if frame.payload.isEmpty && frame.endStream { throw TestFailure("stream \(stream) ended") }
            self.webSocketBytes[stream, default: []] += frame.payload
        }
    }

    /// The next WebSocket text message on `stream`.
    public func webSocketText(stream: UInt32) async throws -> String {
        let (opcode, payload) = try await self.webSocketFrame(stream: stream)
        guard opcode == 0x1 else { throw TestFailure("stream \(stream): WebSocket opcode \(opcode), not text") }
        return String(decoding: payload, as: UTF8.self)
    }

    /// RST_STREAM with CANCEL (0x8).
    public func reset(stream: UInt32) async throws {
        try await self.send(
            type: FrameType.rstStream,
            flags: 0,
            stream: stream,
            payload: HTTP1OverHTTP2.bigEndian(0x8, count: 4)
        )
    }

    /// WINDOW_UPDATE of `increment` bytes (stream 0: the connection's window).
    public func windowUpdate(stream: UInt32, increment: UInt32) async throws {
        try await self.send(
            type: FrameType.windowUpdate,
            flags: 0,
            stream: stream,
            payload: HTTP1OverHTTP2.bigEndian(increment, count: 4)
        )
    }

    /// The next frame from the server: one left unclaimed first, then the wire.
    /// SETTINGS are recorded and acknowledged, PINGs answered, both passed on too.
    public func nextFrame() async throws -> Frame {
        if !self.unclaimed.isEmpty { return self.unclaimed.removeFirst() }
        return try await self.readFrame()
    }

    /// Reads until the server's SETTINGS has arrived (and is acknowledged):
    /// the limits it announces hold from then on.
    public func awaitSettings() async throws {
        while self.serverSettings.isEmpty {
            let frame = try await self.readFrame()
            if frame.type != FrameType.settings { self.unclaimed.append(frame) }
        }
    }

    /// The next frame on `stream` (0: the connection's own), keeping others for later.
    public func nextFrame(on stream: UInt32) async throws -> Frame {
        if let index = self.unclaimed.firstIndex(where: { $0.stream == stream }) {
            return self.unclaimed.remove(at: index)
        }
        while true {
            let frame = try await self.readFrame()
            if frame.stream == stream { return frame }
            self.unclaimed.append(frame)
        }
    }

    /// The next frame of `type` on `stream`, skipping that stream's others.
    public func nextFrame(on stream: UInt32, ofType type: UInt8) async throws -> Frame {
        while true {
            let frame = try await self.nextFrame(on: stream)
            if frame.type == type { return frame }
        }
    }

    /// The response on `stream`, read to its end (END_STREAM) or its reset.
    public func response(stream: UInt32) async throws -> Response {
        let (status, headers) = try await self.head(stream: stream)
        var body: [UInt8] = []
        while true {
            let frame = try await self.nextFrame(on: stream)
            if frame.type == FrameType.rstStream { throw TestFailure("stream \(stream) reset: \(frame.payload)") }
            if frame.type == FrameType.data { body += frame.payload }
            if frame.endStream { break }
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    /// The head of the response on `stream` (its first HEADERS frame).
    public func head(stream: UInt32) async throws -> (status: Int, headers: [(String, String)]) {
        let frame = try await self.nextFrame(on: stream)
        guard frame.type == FrameType.headers else {
            throw TestFailure("stream \(stream): frame type \(frame.type) before HEADERS")
        }
        let decoded = try self.decode(frame)
        if frame.endStream {
            self.unclaimed.insert(Frame(type: FrameType.data, flags: 0x1, stream: stream, payload: []), at: 0)
        }
        return decoded
    }

    /// The next DATA on `stream` as text ("" when the stream ended).
    public func data(stream: UInt32) async throws -> String {
        let frame = try await self.nextFrame(on: stream)
        if frame.type == FrameType.rstStream { throw TestFailure("stream \(stream) reset") }
        guard frame.type == FrameType.data else { throw TestFailure("stream \(stream): frame type \(frame.type)") }
        return String(decoding: frame.payload, as: UTF8.self)
    }

    /// DATA on `stream` until it contains `text`.
    public func data(stream: UInt32, containing text: String) async throws -> String {
        var collected = ""
        while !collected.contains(text) {
            collected += try await self.data(stream: stream)
        }
        return collected
    }

    public func close() async {
        await self.connection.close()
    }

    private func decode(_ frame: Frame) throws -> (status: Int, headers: [(String, String)]) {
        var block = ByteBuffer(bytes: frame.payload)
        let fields = try self.decoder.decodeHeaders(from: &block)
        let status = Int(fields.first(name: ":status") ?? "") ?? 0
        return (status, fields.filter { !$0.name.hasPrefix(":") }.map { ($0.name, $0.value) })
    }

    private func readFrame() async throws -> Frame {
        let header = try await self.connection.readBytes(9)
        let length = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
        let stream = header[5...8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        let payload = length == 0 ? [] : try await self.connection.readBytes(length)
        let frame = Frame(type: header[3], flags: header[4], stream: stream, payload: payload)
        if frame.type == FrameType.settings, frame.flags & 0x1 == 0 {
            for (identifier, value) in HTTP1OverHTTP2.settings(in: payload) { self.serverSettings[identifier] = value }
            // (An acknowledgement may meet a connection the server has closed: the frames read still count.)
            try? await self.send(type: FrameType.settings, flags: 0x1, stream: 0, payload: [])
        } else if frame.type == FrameType.ping, frame.flags & 0x1 == 0 {
            try? await self.send(type: FrameType.ping, flags: 0x1, stream: 0, payload: payload)
        }
        return frame
    }
}

@available(*, unavailable)
extension TestHTTP2Connection: Sendable {}

extension TestRiver {
    /// An HTTP/2 connection: over TLS with ALPN `h2` when River has a
    /// certificate, else h2c by prior knowledge (`http2_cleartext on`).
    public func connectHTTP2(settings: [(UInt16, UInt32)] = []) async throws -> TestHTTP2Connection {
        let connection: TestConnection
        if self.configuration.tlsCertificate != nil {
            var client = self.tlsClient
            client.applicationProtocols = ["h2"]
            let (tls, handshake) = try await self.connectTLS(client)
            guard handshake.negotiatedProtocol == "h2" else {
                throw TestFailure("ALPN chose \(handshake.negotiatedProtocol ?? "nothing"), not h2")
            }
            connection = tls
        } else {
            connection = try await self.connectHTTP1()
        }
        return try await TestHTTP2Connection(connection, settings: settings)
    }
}
