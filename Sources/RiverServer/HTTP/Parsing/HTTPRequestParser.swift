import NIOCore

/// An incremental HTTP/1.1 request parser (RFC 9112,
/// https://www.rfc-editor.org/rfc/rfc9112): feed it bytes as they arrive, take
/// complete requests out, pipelined or not.
///
/// It is pure (no I/O, no clock) so it can be fuzzed and tested byte by byte.
/// A class so a connection that stops reading requests (a stream) can drop it
/// and its buffer.
/// It enforces River's limits while reading — request line (414), header
/// section (431), body (413, decided from `Content-Length` before any body
/// byte is buffered) — and refuses the ambiguities request smuggling relies
/// on: `Content-Length` with `Transfer-Encoding`, conflicting lengths,
/// whitespace before a colon, obsolete line folding.
public final class HTTPRequestParser {
    public struct Limits: Sendable, Equatable {
        public var maxRequestLine: Int
        public var maxHeaderBytes: Int
        public var maxHeaderCount: Int
        public var maxBodyBytes: Int
        /// Lower-case names of header fields kept in `ParsedRequestHead.keptFields`
        /// (`auth_headers` besides Cookie and Authorization, which are always read).
        public var keptFields: Set<String> = []

        public init(
            maxRequestLine: Int = 8192,
            maxHeaderBytes: Int = 16384,
            maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 1 << 20
        ) {
            self.maxRequestLine = maxRequestLine
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public enum Event {
        /// A complete request.
        case request(ParsedRequest)
        /// The head asked for `Expect: 100-continue` and its body has not arrived yet.
        case continueRequired
        /// Nothing complete yet.
        case needMoreData
    }

    private enum ChunkPhase {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytesSeen: Int)
    }

    private enum State {
        case head(scanned: Int, requestLineEnded: Bool)
        case body(ParsedRequestHead, length: Int)
        case chunked(ParsedRequestHead, ChunkPhase, body: ByteBuffer)
    }

    public let limits: Limits
    private var buffer = ByteBuffer()
    /// `buffer` is the one `append` was given (NIO's receive buffer), not a copy.
    private var bufferIsBorrowed = false
    private var state = State.head(scanned: 0, requestLineEnded: false)
    private var continueSent = false

    public init(limits: Limits) {
        self.limits = limits
    }

    /// True when part of a request has arrived but not all of it.
    public var hasPartialRequest: Bool {
        if case .head = self.state { return self.buffer.readableBytes > 0 }
        return true
    }

    /// Bytes received and not yet consumed.
    public var bufferedBytes: Int { self.buffer.readableBytes }

    /// Takes the bytes received but not consumed (when the connection changes protocol).
    public func takeBufferedBytes() -> ByteBuffer {
        defer { self.buffer = ByteBuffer() }
        return self.buffer
    }

    public func append(_ bytes: ByteBuffer) {
        if self.buffer.readableBytes == 0 {
            self.buffer = bytes
            self.bufferIsBorrowed = true
        } else {
            self.bufferIsBorrowed = false  // (the write below copies a borrowed buffer first)
            var bytes = bytes
            if self.buffer.readerIndex > 65536 { self.buffer.discardReadBytes() }
            self.buffer.writeBuffer(&bytes)
        }
    }

    /// The next event. After an error the parser must not be used again.
    public func next() throws(RequestParseError) -> Event {
        let event = try self.nextEvent()
        if self.bufferIsBorrowed { self.giveBackReceiveBuffer(after: event) }
        return event
    }

    /// Keeps no hold on NIO's receive buffer between reads: with nothing left
    /// in it, lets it go; waiting for the rest of a request, keeps a copy of
    /// the part it has. Held, the buffer cannot be read into again, and NIO
    /// allocates another and a pool for both, kept for the connection's life
    /// (about 1,300 bytes on an idle stream whose request came in two reads:
    /// docs/BENCHMARKS.md, "Many channels on one connection").
    private func giveBackReceiveBuffer(after event: Event) {
        if self.buffer.readableBytes == 0 {
            self.buffer = ByteBuffer()
            self.bufferIsBorrowed = false
        } else if case .request = event {
            return  // (the next request may be whole in it too: the caller asks again)
        } else {
            var copy = ByteBufferAllocator().buffer(capacity: max(self.buffer.readableBytes * 2, 512))
            copy.writeImmutableBuffer(self.buffer)
            self.buffer = copy
            self.bufferIsBorrowed = false
        }
    }

    private func nextEvent() throws(RequestParseError) -> Event {
        switch self.state {
        case .head(let scanned, let requestLineEnded):
            guard let headLength = try self.findEndOfHead(from: scanned, requestLineEnded: requestLineEnded) else {
                return .needMoreData
            }
            let headBytes = self.buffer.readSlice(length: headLength)!
            let head = try Self.parseHead(headBytes, limits: self.limits)
            self.continueSent = false
            if head.isChunked {
                self.state = .chunked(head, .size, body: ByteBuffer())
            } else if let length = head.contentLength, length > 0 {
                self.state = .body(head, length: length)
            } else {
                self.state = .head(scanned: 0, requestLineEnded: false)
                return .request(ParsedRequest(head: head))
            }
            return try self.nextEvent()

        case .body(let head, let length):
            if self.buffer.readableBytes >= length {
                let body = self.buffer.readSlice(length: length)!
                self.state = .head(scanned: 0, requestLineEnded: false)
                return .request(ParsedRequest(head: head, body: body))
            }
            return self.continueIfExpected(head)

        case .chunked(let head, let phase, var body):
            self.state = .head(scanned: 0, requestLineEnded: false)  // not holding `body` in two places while it grows
            var phase = phase
            while true {
                switch phase {
                case .size:
                    guard let line = try self.readLine(limit: 1024, what: "chunk size line") else {
                        self.state = .chunked(head, phase, body: body)
                        return self.continueIfExpected(head)
                    }
                    let size = try Self.parseChunkSize(line)
                    if size == 0 {
                        phase = .trailers(bytesSeen: 0)
                    } else {
                        guard size <= self.limits.maxBodyBytes - body.readableBytes else {
                            throw RequestParseError(
                                .contentTooLarge,
                                "request body is larger than \(self.limits.maxBodyBytes) bytes"
                            )
                        }
                        phase = .data(remaining: size)
                    }
                case .data(let remaining):
                    let available = min(remaining, self.buffer.readableBytes)
                    if available > 0 {
                        var slice = self.buffer.readSlice(length: available)!
                        body.writeBuffer(&slice)
                    }
                    if available < remaining {
                        self.state = .chunked(head, .data(remaining: remaining - available), body: body)
                        return .needMoreData
                    }
                    phase = .dataEnd
                case .dataEnd:
                    guard let line = try self.readLine(limit: 2, what: "chunk") else {
                        self.state = .chunked(head, phase, body: body)
                        return .needMoreData
                    }
                    guard line.readableBytes == 0 else {
                        throw RequestParseError(.badRequest, "chunk data is longer than its declared size")
                    }
                    phase = .size
                case .trailers(let bytesSeen):
                    let before = self.buffer.readableBytes
                    guard let line = try self.readLine(limit: self.limits.maxHeaderBytes, what: "trailer section")
                    else {
                        self.state = .chunked(head, phase, body: body)
                        return .needMoreData
                    }
                    let seen = bytesSeen + before - self.buffer.readableBytes
                    guard seen <= self.limits.maxHeaderBytes else {
                        throw RequestParseError(
                            .headerFieldsTooLarge,
                            "trailer section is larger than \(self.limits.maxHeaderBytes) bytes"
                        )
                    }
                    if line.readableBytes == 0 {
                        return .request(ParsedRequest(head: head, body: body))
                    }
                    // Checked like a header field, then ignored; but a field that frames or
                    // routes the message has no place here (RFC 9110 section 6.5.1), and
                    // parsers that honour it late disagree on where the message ends.
                    switch try Self.splitField(line).0 {
                    case .contentLength, .transferEncoding, .host:
                        throw RequestParseError(.badRequest, "framing or routing field in the trailer section")
                    default: break
                    }
                    phase = .trailers(bytesSeen: seen)
                }
            }
        }
    }

    private func continueIfExpected(_ head: ParsedRequestHead) -> Event {
        if head.expectsContinue && !self.continueSent && self.buffer.readableBytes == 0 {
            self.continueSent = true
            return .continueRequired
        }
        return .needMoreData
    }

    // MARK: - Head

    /// The length of the head (blank line included), or nil when incomplete.
    /// Every line must end with CRLF: a bare LF is refused (RFC 9112 section
    /// 2.2 lets a server accept one, but two parsers that disagree on line
    /// ends are how requests get smuggled).
    private func findEndOfHead(from scanned: Int, requestLineEnded: Bool) throws(RequestParseError) -> Int? {
        // Ignore empty lines (CRLF) before the request line (RFC 9112 section 2.2).
        while self.buffer.readableBytes >= 2,
            self.buffer.getInteger(at: self.buffer.readerIndex, as: UInt16.self) == 0x0D0A
        {
            self.buffer.moveReaderIndex(forwardBy: 2)
        }
        let limits = self.limits
        var sawLineEnd = requestLineEnded
        let result: Result<Int?, RequestParseError> = self.buffer.withUnsafeReadableBytes { bytes in
            var index = max(scanned, 0)
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") {
                    guard index > 0, bytes[index - 1] == UInt8(ascii: "\r") else {
                        return .failure(RequestParseError(.badRequest, "line ends with LF without CR"))
                    }
                    if !sawLineEnd && index > limits.maxRequestLine {
                        return .failure(
                            RequestParseError(.uriTooLong, "request line is longer than \(limits.maxRequestLine) bytes")
                        )
                    }
                    sawLineEnd = true
                    if index + 2 < bytes.count && bytes[index + 1] == UInt8(ascii: "\r")
                        && bytes[index + 2] == UInt8(ascii: "\n")
                    {
                        return .success(index + 3)
                    }
                }
                index += 1
            }
            if !sawLineEnd && bytes.count > limits.maxRequestLine {
                return .failure(
                    RequestParseError(.uriTooLong, "request line is longer than \(limits.maxRequestLine) bytes")
                )
            }
            if bytes.count > limits.maxHeaderBytes {
                return .failure(
                    RequestParseError(
                        .headerFieldsTooLarge,
                        "header section is larger than \(limits.maxHeaderBytes) bytes"
                    )
                )
            }
            return .success(nil)
        }
        switch result {
        case .success(let length):
            if let length {
                guard length <= limits.maxHeaderBytes + 4 else {
                    throw RequestParseError(
                        .headerFieldsTooLarge,
                        "header section is larger than \(limits.maxHeaderBytes) bytes"
                    )
                }
                return length
            }
            // Resume scanning a little before the end: a terminator may straddle reads.
            self.state = .head(scanned: max(self.buffer.readableBytes - 3, 0), requestLineEnded: sawLineEnd)
            return nil
        case .failure(let error):
            throw error
        }
    }

    /// Reads one line of at most `limit` bytes (without its CRLF); nil when it
    /// has not fully arrived. The same bytes give the same answer however
    /// they are split into reads: a line is too long as soon as `limit` + 2
    /// bytes have come without its LF.
    private func readLine(limit: Int, what: String) throws(RequestParseError) -> ByteBuffer? {
        guard let newline = self.buffer.readableOffset(of: UInt8(ascii: "\n")) else {
            if self.buffer.readableBytes >= limit + 2 {
                throw RequestParseError(.badRequest, "\(what) is too long")
            }
            return nil
        }
        guard newline < limit + 2 else { throw RequestParseError(.badRequest, "\(what) is too long") }
        guard newline > 0,
            self.buffer.getInteger(at: self.buffer.readerIndex + newline - 1, as: UInt8.self) == UInt8(ascii: "\r")
        else {
            throw RequestParseError(.badRequest, "\(what) ends with LF without CR")
        }
        let line = self.buffer.readableSlice(offset: 0, length: newline - 1)
        self.buffer.moveReaderIndex(forwardBy: newline + 1)
        return line
    }

    /// `chunk-size [ chunk-ext ]` (RFC 9112 section 7.1): hex digits, then only
    /// `;name[=value]` extensions (token or quoted-string values, optional
    /// whitespace around `;` and `=`), which are checked and ignored.
    private static func parseChunkSize(_ line: ByteBuffer) throws(RequestParseError) -> Int {
        let result: Result<Int, RequestParseError> = line.withUnsafeReadableBytes { bytes in
            var size = 0
            var index = 0
            while index < bytes.count, let value = Self.hexValue(bytes[index]) {
                guard index < 15 else {
                    return .failure(RequestParseError(.contentTooLarge, "chunk size is too large"))
                }
                size = size << 4 | value
                index += 1
            }
            guard index > 0 else { return .failure(RequestParseError(.badRequest, "chunk size is not hexadecimal")) }
            guard ChunkExtensions.areValid(UnsafeRawBufferPointer(rebasing: bytes[index...])) else {
                return .failure(RequestParseError(.badRequest, "malformed chunk extension"))
            }
            return .success(size)
        }
        return try result.get()
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
