import NIOCore

/// Reads the HTTP/1.1 response bytes `HTTPConnectionHandler` writes to an
/// HTTP/2 stream back into a head and body pieces, so the stream can carry
/// them as HEADERS and DATA frames (`HTTP2StreamBridge`).
///
/// Body bytes are slices of the buffers written: a message encoded once for
/// every subscriber stays one buffer (its chunk-size line and CRLF are
/// skipped, never copied). The head is small and parsed once per response.
struct HTTP1ResponseDeframer {
    /// What a write of response bytes carried.
    enum Event: Equatable {
        /// The status line and header fields, names lowercased, minus those
        /// HTTP/2 forbids (RFC 9113 section 8.2.2); `bodyless` when nothing follows.
        case head(status: Int, headers: [(String, String)], bodyless: Bool)
        /// `100 Continue`: the client may send its body.
        case interimContinue
        case body(ByteBuffer)
        /// Part of a chunk whose rest comes in a later write (a JSONP message:
        /// prefix, JSON, suffix): one chunk stays one DATA frame.
        case chunkPart(ByteBuffer)
        /// The response is complete.
        case end

        static func == (lhs: Event, rhs: Event) -> Bool {
            switch (lhs, rhs) {
            case (.head(let a, let b, let c), .head(let x, let y, let z)):
                return a == x && c == z && b.elementsEqual(y, by: { $0 == $1 })
            case (.body(let a), .body(let b)), (.chunkPart(let a), .chunkPart(let b)): return a == b
            case (.end, .end), (.interimContinue, .interimContinue): return true
            default: return false
            }
        }
    }

    /// The bytes are not an HTTP/1.1 response River would write.
    struct Malformed: Error, Equatable {
        let reason: String
    }

    private enum State {
        /// Collecting the head up to its blank line.
        case head(ByteBuffer)
        /// A body of known length, with this many bytes to come.
        case length(remaining: Int)
        /// A chunked body: collecting a chunk-size line.
        case chunkSize(ByteBuffer)
        /// Inside a chunk, with this many bytes to come, then its CRLF.
        case chunkData(remaining: Int)
        /// Skipping the CRLF after a chunk's data (bytes left to skip).
        case chunkEnd(remaining: Int)
        /// After the last chunk: skipping the (empty) trailer section.
        case trailer(ByteBuffer)
        /// Until the stream closes (a response without framing).
        case untilClose
        case done
    }

    private var state = State.head(ByteBuffer())
    /// A response to HEAD has no body, whatever its head says.
    private let requestIsHead: Bool
    /// The request asked for a WebSocket (RFC 8441): a `101` is its final head, and
    /// everything after it is the WebSocket's bytes, until the stream closes.
    private let requestIsWebSocket: Bool

    /// The longest head or chunk-size line accepted (River's are far shorter).
    static let maximumLineBytes = 16 * 1024

    init(requestIsHead: Bool, requestIsWebSocket: Bool = false) {
        self.requestIsHead = requestIsHead
        self.requestIsWebSocket = requestIsWebSocket
    }

    /// True once the response is complete.
    var isComplete: Bool {
        if case .done = self.state { return true }
        return false
    }

    /// Reads `bytes`, appending what they complete to `events`.
    mutating func read(_ bytes: ByteBuffer, into events: inout [Event]) throws(Malformed) {
        var bytes = bytes
        while bytes.readableBytes > 0 {
            switch self.state {
            case .head(var collected):
                self.state = .done  // (the collected bytes are not shared while they grow)
                guard let line = try Self.take(&bytes, through: "\r\n\r\n", into: &collected) else {
                    self.state = .head(collected)
                    return
                }
                try self.readHead(line, into: &events)
            case .length(let remaining):
                let piece = bytes.readSlice(length: min(remaining, bytes.readableBytes))!
                events.append(.body(piece))
                let left = remaining - piece.readableBytes
                if left == 0 {
                    self.state = .done
                    events.append(.end)
                } else {
                    self.state = .length(remaining: left)
                }
            case .chunkSize(var collected):
                self.state = .done
                guard let line = try Self.take(&bytes, through: "\r\n", into: &collected) else {
                    self.state = .chunkSize(collected)
                    return
                }
                let size = try Self.chunkSize(line)
                self.state = size == 0 ? .trailer(ByteBuffer()) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let piece = bytes.readSlice(length: min(remaining, bytes.readableBytes))!
                let left = remaining - piece.readableBytes
                events.append(left == 0 ? .body(piece) : .chunkPart(piece))
                self.state = left == 0 ? .chunkEnd(remaining: 2) : .chunkData(remaining: left)
            case .chunkEnd(let remaining):
                let skipped = min(remaining, bytes.readableBytes)
                bytes.moveReaderIndex(forwardBy: skipped)
                self.state = remaining == skipped ? .chunkSize(ByteBuffer()) : .chunkEnd(remaining: remaining - skipped)
            case .trailer(var collected):
                self.state = .done
                // An empty trailer section is the CRLF alone.
                if collected.readableBytes == 0, bytes.readableBytesView.starts(with: "\r\n".utf8) {
                    bytes.moveReaderIndex(forwardBy: 2)
                    events.append(.end)
                    continue
                }
                guard try Self.take(&bytes, through: "\r\n\r\n", into: &collected) != nil else {
                    self.state = .trailer(collected)
                    return
                }
                events.append(.end)
            case .untilClose:
                events.append(.body(bytes))
                return
            case .done:
                return  // nothing follows a complete response on a stream
            }
        }
    }

    private mutating func readHead(_ head: ByteBuffer, into events: inout [Event]) throws(Malformed) {
        let text = String(buffer: head)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)[...]
        guard let statusLine = lines.popFirst(), statusLine.hasPrefix("HTTP/1."),
            let status = Int(statusLine.dropFirst(9).prefix(3)), (100...999).contains(status)
        else { throw Malformed(reason: "no status line") }
        var headers: [(String, String)] = []
        var contentLength: Int?
        var chunked = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw Malformed(reason: "header without a colon") }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            switch name {
            case "content-length": contentLength = Int(value)
            case "transfer-encoding": chunked = value.lowercased() == "chunked"
            case "connection", "keep-alive", "proxy-connection", "upgrade": continue
            default: break
            }
            if name != "transfer-encoding" { headers.append((name, value)) }
        }
        if status == 101 && self.requestIsWebSocket {
            events.append(.head(status: status, headers: headers, bodyless: false))
            self.state = .untilClose
            return
        }
        if status < 200 {
            // An interim answer (`100 Continue` to `expect: 100-continue`); the final head follows.
            if status == 100 { events.append(.interimContinue) }
            self.state = .head(ByteBuffer())
            return
        }
        let bodyless = self.requestIsHead || status == 204 || status == 304 || (!chunked && contentLength == 0)
        events.append(.head(status: status, headers: headers, bodyless: bodyless))
        if bodyless {
            self.state = .done
            events.append(.end)
        } else if chunked {
            self.state = .chunkSize(ByteBuffer())
        } else if let contentLength {
            self.state = .length(remaining: contentLength)
        } else {
            self.state = .untilClose
        }
    }

    /// Moves bytes from `bytes` into `collected` up to and including
    /// `terminator`; the whole when it is found (nil: more is needed).
    private static func take(
        _ bytes: inout ByteBuffer,
        through terminator: StaticString,
        into collected: inout ByteBuffer
    ) throws(Malformed) -> ByteBuffer? {
        let terminatorBytes = terminator.withUTF8Buffer { Array($0) }
        // Search the collected tail and the new bytes together, a byte at a time (heads are short).
        while let byte = bytes.readInteger(as: UInt8.self) {
            collected.writeInteger(byte)
            if byte == terminatorBytes.last!, collected.readableBytes >= terminatorBytes.count,
                collected.readableBytesView.suffix(terminatorBytes.count).elementsEqual(terminatorBytes)
            {
                return collected
            }
            if collected.readableBytes > Self.maximumLineBytes { throw Malformed(reason: "line too long") }
        }
        return nil
    }

    /// The size in a chunk-size line (hex digits, then extensions, then CRLF).
    private static func chunkSize(_ line: ByteBuffer) throws(Malformed) -> Int {
        let text = String(buffer: line).prefix(while: { $0.isHexDigit })
        guard !text.isEmpty, text.count <= 15, let size = Int(text, radix: 16) else {
            throw Malformed(reason: "bad chunk-size line")
        }
        return size
    }
}
