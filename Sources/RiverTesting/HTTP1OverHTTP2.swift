import Foundation
import NIOCore
import NIOHPACK
import RiverServer

/// The client half of carrying a test's HTTP/1.1 over HTTP/2, with no I/O of
/// its own: the HTTP/1.1 requests a test writes become one stream each
/// (HEADERS, DATA as the server's windows allow), and the frames the server
/// sends become the HTTP/1.1 responses the test reads, in the order of their
/// requests, as a pipelining HTTP/1.1 client would see them:
///
/// - a body without `content-length` comes back chunked, one chunk per DATA
///   frame, and its END_STREAM as the last chunk;
/// - an upgrade to a WebSocket is an extended CONNECT (RFC 8441); its
///   `:status 200` comes back as `101` with the `Sec-WebSocket-Accept` of the
///   test's key, and the stream carries the WebSocket's bytes both ways;
/// - an event stream comes unframed, as River sends it over HTTP/1.1, and its
///   end is the connection's close;
/// - a stream the server resets, or a GOAWAY once the streams it covers are
///   done, is the connection closing;
/// - requests wait for the server's SETTINGS_MAX_CONCURRENT_STREAMS.
///
/// What HTTP/2 cannot say — `Connection: close`, chunk extensions, an
/// HTTP/1.0 request — is lost on the way (docs/Testing.md, "HTTP/2 runs").
struct HTTP1OverHTTP2 {
    /// What the test wrote and is not a whole request (head, chunk) yet.
    private var requestBytes: [UInt8] = []
    private enum RequestState {
        case head
        case body(stream: UInt32, remaining: Int)
        case chunkedBody(stream: UInt32)
        case tunnel(stream: UInt32)
    }
    private var request = RequestState.head
    private var nextStream: UInt32 = 1

    /// One response as the test will read it.
    fileprivate struct Response {
        let stream: UInt32
        let isHead: Bool
        /// The key of a WebSocket upgrade (nil: not one).
        let webSocketKey: String?
        var text: [UInt8] = []
        var chunked = false
        /// The WebSocket is open, or an event stream flows: as in HTTP/1.1, the
        /// bytes come unframed and their end is the connection's close.
        var isUntilClose = false
        var finalHead = false
        var ended = false
        var reset = false
    }
    /// Responses in the order of their requests; the first is the one being read.
    private var responses: [Response] = []
    private var frameBytes: [UInt8] = []
    /// A header block still waiting for its CONTINUATION frames.
    private var headerBlock: (stream: UInt32, endStream: Bool, bytes: [UInt8])?
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())

    /// Frames in the order the requests made them, waiting for the server's
    /// stream limit (HEADERS) or flow-control windows (DATA).
    private var unsent: [(stream: UInt32, isHeaders: Bool, bytes: [UInt8], endStream: Bool)] = []
    /// The streams opened whose responses have not ended, and how many the server allows.
    private var openStreams = 0
    private var maximumStreams = Int.max
    private var connectionWindow = 65_535
    private var streamWindows: [UInt32: Int] = [:]
    private var initialStreamWindow = 65_535
    private var lastStreamOfGoAway: UInt32?

    /// The server's SETTINGS has come (an extended CONNECT must wait for it).
    private(set) var hasServerSettings = false
    /// The connection, as HTTP/1.1 would see it, is closed.
    private(set) var isClosed = false

    /// The connection preface and the client's SETTINGS: no server push; windows
    /// and frames of 16 MiB, so an HTTP/1.1 chunk comes as one DATA frame
    /// (the test reads one message per chunk) and flow control never holds a
    /// reader that keeps up (one that stops reading holds the socket, as in HTTP/1.1).
    static let preface: [UInt8] =
        Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        + frame(0x4, 0, 0, setting(0x2, 0) + setting(0x4, largeWindow) + setting(0x5, largeWindow - 1))
        + windowUpdate(0, Int(largeWindow) - 65_535)
    private static let largeWindow: UInt32 = 1 << 24

    private static func setting(_ identifier: UInt16, _ value: UInt32) -> [UInt8] {
        bigEndian(UInt32(identifier), count: 2) + bigEndian(value, count: 4)
    }

    // MARK: - Requests

    /// The frames for what the test wrote: its requests so far, as far as the windows allow.
    mutating func send(_ bytes: [UInt8]) throws -> [UInt8] {
        self.requestBytes += bytes
        var out: [UInt8] = []
        while try self.step(into: &out) {}
        return out + self.flushUnsent()
    }

    /// Takes one piece of the request bytes; false when more bytes are needed.
    private mutating func step(into out: inout [UInt8]) throws -> Bool {
        switch self.request {
        case .head:
            guard let end = Self.find([13, 10, 13, 10], in: self.requestBytes) else { return false }
            let head = String(decoding: self.requestBytes[..<end], as: UTF8.self)
            self.requestBytes.removeFirst(end + 4)
            try self.open(head, into: &out)
            return true
        case .body(let stream, let remaining):
            guard !self.requestBytes.isEmpty else { return false }
            let piece = Array(self.requestBytes.prefix(remaining))
            self.requestBytes.removeFirst(piece.count)
            self.queueData(stream, piece, endStream: piece.count == remaining)
            self.request = piece.count == remaining ? .head : .body(stream: stream, remaining: remaining - piece.count)
            return true
        case .chunkedBody(let stream):
            guard let lineEnd = Self.find([13, 10], in: self.requestBytes) else { return false }
            let sizeText = String(decoding: self.requestBytes[..<lineEnd], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                throw TestFailure("HTTP/2 run: a chunk size line HTTP/2 cannot carry: \(sizeText.debugDescription)")
            }
            if size == 0 {
                guard let trailerEnd = Self.find([13, 10, 13, 10], in: self.requestBytes) else {
                    guard self.requestBytes.count >= lineEnd + 4 else { return false }
                    throw TestFailure("HTTP/2 run: request trailers are not carried")
                }
                self.requestBytes.removeFirst(trailerEnd + 4)
                self.queueData(stream, [], endStream: true)
                self.request = .head
                return true
            }
            guard self.requestBytes.count >= lineEnd + 2 + size + 2 else { return false }
            self.queueData(stream, Array(self.requestBytes[(lineEnd + 2)..<(lineEnd + 2 + size)]), endStream: false)
            self.requestBytes.removeFirst(lineEnd + 2 + size + 2)
            return true
        case .tunnel(let stream):
            guard !self.requestBytes.isEmpty else { return false }
            self.queueData(stream, self.requestBytes, endStream: false)
            self.requestBytes.removeAll()
            return true
        }
    }

    /// Opens a stream for one HTTP/1.1 request head.
    private mutating func open(_ head: String, into out: inout [UInt8]) throws {
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2] == "HTTP/1.1" else {
            throw TestFailure("HTTP/2 run: a request line HTTP/2 cannot carry: \(lines[0].debugDescription)")
        }
        var fields: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw TestFailure("HTTP/2 run: a header line HTTP/2 cannot carry: \(line.debugDescription)")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields.append((line[..<colon].lowercased(), value))
        }
        let value = { (name: String) in fields.first { $0.0 == name }?.1 }
        let isWebSocket = value("upgrade")?.lowercased() == "websocket"
        let method = String(requestLine[0])
        let stream = self.nextStream
        self.nextStream += 2
        var headers: HPACKHeaders = [
            ":method": isWebSocket ? "CONNECT" : method, ":scheme": "http", ":path": String(requestLine[1]),
        ]
        if isWebSocket { headers.add(name: ":protocol", value: "websocket") }
        headers.add(name: ":authority", value: value("host") ?? "127.0.0.1")
        let connectionFields = Set(
            (value("connection") ?? "").lowercased().split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            }
        )
        for (name, value) in fields {
            switch name {
            case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": continue
            case "sec-websocket-key" where isWebSocket: continue
            case _ where connectionFields.contains(name): continue
            default: headers.add(name: name, value: value)
            }
        }
        let length = Int(value("content-length") ?? "0") ?? 0
        let chunked = value("transfer-encoding")?.lowercased() == "chunked"
        let endStream = !isWebSocket && !chunked && length == 0
        var block = ByteBuffer()
        try self.encoder.encode(headers: headers, to: &block)
        self.unsent.append(
            (stream, true, Self.frame(0x1, endStream ? 0x5 : 0x4, stream, Array(block.readableBytesView)), false)
        )
        self.streamWindows[stream] = self.initialStreamWindow
        self.responses.append(
            Response(
                stream: stream,
                isHead: method == "HEAD",
                webSocketKey: isWebSocket ? value("sec-websocket-key") : nil
            )
        )
        if isWebSocket {
            self.request = .tunnel(stream: stream)
        } else if chunked {
            self.request = .chunkedBody(stream: stream)
        } else if length > 0 {
            self.request = .body(stream: stream, remaining: length)
        }
    }

    private mutating func queueData(_ stream: UInt32, _ bytes: [UInt8], endStream: Bool) {
        self.unsent.append((stream, false, bytes, endStream))
    }

    /// DATA frames for what waits, as far as the windows (and 16 KiB frames) allow.
    private mutating func flushUnsent() -> [UInt8] {
        var out: [UInt8] = []
        while let first = self.unsent.first {
            // (A stream the server has ended takes nothing more: what waits for it is dropped.)
            guard let streamWindow = self.streamWindows[first.stream] else {
                self.unsent.removeFirst()
                continue
            }
            if first.isHeaders {
                // (A pipelining test may ask for more streams than the server allows at once.)
                guard self.openStreams < self.maximumStreams else { break }
                self.openStreams += 1
                out += first.bytes
                self.unsent.removeFirst()
                continue
            }
            let window = min(self.connectionWindow, streamWindow, 16_384)
            if first.bytes.count <= window {
                out += Self.frame(0x0, first.endStream ? 0x1 : 0, first.stream, first.bytes)
                self.spend(first.bytes.count, on: first.stream)
                self.unsent.removeFirst()
                continue
            }
            guard window > 0 else { break }
            out += Self.frame(0x0, 0, first.stream, Array(first.bytes.prefix(window)))
            self.unsent[0].bytes.removeFirst(window)
            self.spend(window, on: first.stream)
        }
        return out
    }

    private mutating func spend(_ count: Int, on stream: UInt32) {
        self.connectionWindow -= count
        self.streamWindows[stream, default: 0] -= count
    }

    // MARK: - Responses

    /// Reads the server's frames: the HTTP/1.1 bytes the test may read now, and
    /// the frames to send back (acknowledgements, window updates, waiting DATA).
    mutating func receive(_ bytes: [UInt8]) throws -> (text: [UInt8], reply: [UInt8]) {
        self.frameBytes += bytes
        var reply: [UInt8] = []
        var offset = 0
        while self.frameBytes.count - offset >= 9 {
            let length =
                Int(self.frameBytes[offset]) << 16 | Int(self.frameBytes[offset + 1]) << 8
                | Int(self.frameBytes[offset + 2])
            guard self.frameBytes.count - offset >= 9 + length else { break }
            let type = self.frameBytes[offset + 3]
            let flags = self.frameBytes[offset + 4]
            let stream =
                self.frameBytes[(offset + 5)...(offset + 8)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
            let payload = Array(self.frameBytes[(offset + 9)..<(offset + 9 + length)])
            offset += 9 + length
            try self.read(type: type, flags: flags, stream: stream, payload: payload, reply: &reply)
        }
        self.frameBytes.removeFirst(offset)
        return (self.takeText(), reply + self.flushUnsent())
    }

    private mutating func read(
        type: UInt8,
        flags: UInt8,
        stream: UInt32,
        payload: [UInt8],
        reply: inout [UInt8]
    )
        throws
    {
        switch type {
        case 0x0:  // DATA
            let data = Self.unpadded(payload, flags: flags)
            if !payload.isEmpty {
                reply += Self.windowUpdate(0, payload.count)
                if flags & 0x1 == 0 { reply += Self.windowUpdate(stream, payload.count) }
            }
            self.withResponse(stream) { response in
                if !data.isEmpty {
                    if response.chunked {
                        response.text +=
                            Array(String(data.count, radix: 16, uppercase: true).utf8) + [13, 10] + data + [13, 10]
                    } else {
                        response.text += data
                    }
                }
                if flags & 0x1 != 0 { response.end() }
            }
        case 0x1:  // HEADERS
            var block = Self.unpadded(payload, flags: flags)
            if flags & 0x20 != 0 { block.removeFirst(min(5, block.count)) }
            self.headerBlock = (stream, flags & 0x1 != 0, block)
            if flags & 0x4 != 0 { try self.readHeaderBlock() }
        case 0x9:  // CONTINUATION
            self.headerBlock?.bytes += payload
            if flags & 0x4 != 0 { try self.readHeaderBlock() }
        case 0x3:  // RST_STREAM
            // (Also after the response ended: the server stops reading a request it answered early.)
            self.withResponse(stream) { response in
                response.reset = true
                response.ended = true
            }
        case 0x4 where flags & 0x1 == 0:  // SETTINGS
            for (identifier, setting) in Self.settings(in: payload) {
                let value = Int(setting)
                if identifier == 0x3 { self.maximumStreams = value }
                if identifier == 0x4 {
                    for stream in self.streamWindows.keys {
                        self.streamWindows[stream, default: 0] += value - self.initialStreamWindow
                    }
                    self.initialStreamWindow = value
                }
            }
            self.hasServerSettings = true
            reply += Self.frame(0x4, 0x1, 0, [])
        case 0x6 where flags & 0x1 == 0:  // PING
            reply += Self.frame(0x6, 0x1, 0, payload)
        case 0x7:  // GOAWAY
            self.lastStreamOfGoAway = payload.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
        case 0x8:  // WINDOW_UPDATE
            let increment = payload.prefix(4).reduce(0) { $0 << 8 | Int($1) } & 0x7FFF_FFFF
            if stream == 0 {
                self.connectionWindow += increment
            } else {
                self.streamWindows[stream, default: 0] += increment
            }
        default:
            break
        }
    }

    private mutating func readHeaderBlock() throws {
        guard let (stream, endStream, bytes) = self.headerBlock else { return }
        self.headerBlock = nil
        var block = ByteBuffer(bytes: bytes)
        let fields = try self.decoder.decodeHeaders(from: &block)
        let status = Int(fields.first(name: ":status") ?? "") ?? 0
        self.withResponse(stream) { response in
            if response.finalHead {
                if endStream { response.end() }  // trailers: dropped
                return
            }
            response.head(status: status, fields: fields.filter { !$0.name.hasPrefix(":") }.map { ($0.name, $0.value) })
            if endStream { response.end() }
        }
    }

    private mutating func withResponse(_ stream: UInt32, _ change: (inout Response) -> Void) {
        guard let index = self.responses.firstIndex(where: { $0.stream == stream }) else { return }
        change(&self.responses[index])
        if self.responses[index].ended, self.streamWindows.removeValue(forKey: stream) != nil {
            self.openStreams -= 1
        }
    }

    /// The HTTP/1.1 bytes of the responses in request order: each waits for those before it to end.
    private mutating func takeText() -> [UInt8] {
        var text: [UInt8] = []
        while !self.isClosed, !self.responses.isEmpty {
            text += self.responses[0].text
            self.responses[0].text.removeAll()
            guard self.responses[0].ended else { break }
            let response = self.responses.removeFirst()
            if response.reset { self.isClosed = true }
        }
        if let last = self.lastStreamOfGoAway, self.responses.first.map({ $0.stream > last }) ?? true {
            self.isClosed = true
        }
        return text
    }

    /// The connection underneath closed: what was whole is read, nothing more comes.
    mutating func closedUnderneath() -> [UInt8] {
        let text = self.isClosed ? [] : (self.responses.first?.text ?? [])
        self.isClosed = true
        return text
    }

    // MARK: - Frames

    /// One frame (RFC 9113 section 4.1): length, type, flags, stream, payload.
    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        bigEndian(UInt32(payload.count), count: 3) + [type, flags] + bigEndian(stream, count: 4) + payload
    }

    private static func windowUpdate(_ stream: UInt32, _ increment: Int) -> [UInt8] {
        frame(0x8, 0, stream, bigEndian(UInt32(increment), count: 4))
    }

    /// A SETTINGS frame's payload (RFC 9113 section 6.5.1): identifier and value, in order.
    static func settings(in payload: [UInt8]) -> [(identifier: UInt16, value: UInt32)] {
        stride(from: 0, to: payload.count - 5, by: 6).map { start in
            let identifier = UInt16(payload[start]) << 8 | UInt16(payload[start + 1])
            return (identifier, payload[(start + 2)..<(start + 6)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    /// `value`'s low `count` bytes, most significant first (frame fields; `TestHTTP2Connection` uses it too).
    static func bigEndian(_ value: UInt32, count: Int) -> [UInt8] {
        (0..<count).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    private static func unpadded(_ payload: [UInt8], flags: UInt8) -> [UInt8] {
        guard flags & 0x8 != 0, let padding = payload.first else { return payload }
        return Array(payload.dropFirst().dropLast(Int(padding)))
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        return (0...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}

extension HTTP1OverHTTP2.Response {
    /// Writes the HTTP/1.1 head that `status` and `fields` stand for.
    fileprivate mutating func head(status: Int, fields: [(String, String)]) {
        var fields = fields
        var status = status
        if let key = self.webSocketKey, status == 200 {
            // RFC 8441: a 2xx opens the WebSocket; HTTP/1.1 said it with 101 and the accept key.
            status = 101
            self.isUntilClose = true
            let accept = WebSocketHandshake.acceptValue(for: key)
            fields = [("upgrade", "websocket"), ("connection", "Upgrade"), ("sec-websocket-accept", accept)] + fields
        }
        self.finalHead = status >= 200 || status == 101
        let hasLength = fields.contains { $0.0 == "content-length" }
        let bodyless = self.isHead || status < 200 || status == 204 || status == 304
        // River's event streams are unframed in HTTP/1.1, until the connection closes.
        let isEventStream = fields.contains { $0.0 == "content-type" && $0.1.hasPrefix("text/event-stream") }
        if self.finalHead, !bodyless, !hasLength, isEventStream { self.isUntilClose = true }
        if self.finalHead, !bodyless, !hasLength, !self.isUntilClose {
            fields.append(("transfer-encoding", "chunked"))
            self.chunked = true
        }
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in fields { text += "\(name): \(value)\r\n" }
        self.text += Array((text + "\r\n").utf8)
    }

    fileprivate mutating func end() {
        if self.chunked && !self.ended { self.text += Array("0\r\n\r\n".utf8) }
        if self.isUntilClose && !self.ended { self.reset = true }
        self.ended = true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 101: "Switching Protocols"
        case 200: "OK"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        default: "Status"
        }
    }
}
