import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HTTPRequestParser {
    /// Parses a complete head (request line, header fields, blank line).
    static func parseHead(_ bytes: ByteBuffer, limits: Limits) throws(RequestParseError) -> ParsedRequestHead {
        var head = ParsedRequestHead()
        var lines = HeadLines(bytes)
        guard let requestLine = lines.next() else { throw RequestParseError(.badRequest, "empty request") }
        try Self.parseRequestLine(requestLine, into: &head)

        var fieldCount = 0
        var contentLength: Int?
        var connectionClose = false
        var connectionKeepAlive = false
        var connectionUpgrade = false
        var upgradeWebSocket = false
        var upgradeField = false
        var hostFields = 0
        var transferEncoding: String?
        while let line = lines.next(), line.readableBytes > 0 {
            fieldCount += 1
            guard fieldCount <= limits.maxHeaderCount else {
                throw RequestParseError(.headerFieldsTooLarge, "more than \(limits.maxHeaderCount) header fields")
            }
            let (name, value) = try Self.splitField(line)
            if !limits.keptFields.isEmpty { Self.keep(line, value, limits.keptFields, in: &head) }
            switch name {
            case .contentLength:
                guard let length = Self.parseContentLength(value) else {
                    throw RequestParseError(.badRequest, "Content-Length is not a number")
                }
                // Two, even equal, are refused: parsers that merge them and parsers
                // that refuse them would disagree on where the message ends.
                if contentLength != nil {
                    throw RequestParseError(.badRequest, "more than one Content-Length field")
                }
                contentLength = length
            case .transferEncoding:
                let text = String(buffer: value).lowercased()
                transferEncoding = transferEncoding.map { $0 + "," + text } ?? text
            case .connection:
                for token in String(buffer: value).lowercased().split(separator: ",") {
                    switch token.trimmingSpaces {
                    case "close": connectionClose = true
                    case "keep-alive": connectionKeepAlive = true
                    case "upgrade": connectionUpgrade = true
                    default: break
                    }
                }
            case .expect:
                head.expectsContinue = String(buffer: value).lowercased() == "100-continue"
            case .contentType:
                head.hasContentType = true
                let contentType = String(buffer: value).lowercased()
                head.isFormEncoded = contentType.hasPrefix("application/x-www-form-urlencoded")
                head.isOctetStream = contentType.hasPrefix("application/octet-stream")
            case .accept:
                head.acceptsEventStream = String(buffer: value).lowercased().contains("text/event-stream")
            case .lastEventID: head.lastEventID = String(buffer: value)
            case .ifNoneMatch: head.ifNoneMatch = String(buffer: value)
            case .origin: head.origin = String(buffer: value)
            case .cookie: head.cookie = head.cookie.map { $0 + "; " + String(buffer: value) } ?? String(buffer: value)
            case .authorization: head.authorization = String(buffer: value)
            case .publishSecret: head.publishSecret = String(buffer: value)
            case .accessControlRequestMethod: head.accessControlRequestMethod = String(buffer: value)
            case .accessControlRequestHeaders: head.accessControlRequestHeaders = String(buffer: value)
            case .upgrade:
                upgradeField = true
                upgradeWebSocket = String(buffer: value).lowercased().split(separator: ",")
                    .contains { $0.trimmingSpaces == "websocket" }
            case .webSocketKey:
                // RFC 6455 section 11.3.1: the field must not appear more than once.
                if head.webSocketKey != nil { head.webSocketKeyRepeated = true }
                head.webSocketKey = String(buffer: value)
            case .webSocketProtocol:
                let text = String(buffer: value)
                head.webSocketProtocols = head.webSocketProtocols.map { $0 + ", " + text } ?? text
            case .webSocketVersion:
                // RFC 6455 section 11.3.5: the field must not appear more than once in a request.
                if head.webSocketVersion != nil { head.webSocketVersionRepeated = true }
                head.webSocketVersion = String(buffer: value)
            case .webSocketExtensions:
                let text = String(buffer: value)
                head.webSocketExtensions = head.webSocketExtensions.map { $0 + ", " + text } ?? text
            case .forwarded: head.isForwarded = true
            case .host: hostFields += 1
            case .other: break
            }
        }

        // RFC 9112 section 3.2: exactly one Host in HTTP/1.1, never two.
        guard hostFields == 1 || (head.isHTTP10 && hostFields == 0) else {
            throw RequestParseError(
                .badRequest,
                hostFields == 0 ? "HTTP/1.1 request without a Host header" : "request with more than one Host header"
            )
        }
        if let transferEncoding {
            guard contentLength == nil else {
                throw RequestParseError(.badRequest, "request has both Content-Length and Transfer-Encoding")
            }
            guard !head.isHTTP10 else {
                throw RequestParseError(.badRequest, "HTTP/1.0 request uses Transfer-Encoding")
            }
            let codings = transferEncoding.split(separator: ",").map { $0.trimmingSpaces }
            guard codings == ["chunked"] else {
                throw RequestParseError(.notImplemented, "transfer coding not supported (only chunked)")
            }
            head.isChunked = true
        }
        head.contentLength = contentLength
        if let contentLength, contentLength > limits.maxBodyBytes {
            throw RequestParseError(.contentTooLarge, "request body is larger than \(limits.maxBodyBytes) bytes")
        }
        head.keepAlive = head.isHTTP10 ? (connectionKeepAlive && !connectionClose) : !connectionClose
        // RFC 9110 section 7.8: a server must ignore Upgrade in an HTTP/1.0 request.
        head.upgradesToWebSocket = upgradeWebSocket && connectionUpgrade && !head.isHTTP10
        head.asksToUpgrade = upgradeField && connectionUpgrade
        if head.isHTTP10 { head.expectsContinue = false }
        return head
    }

    /// A head made of the request line alone (no field parsed): an HTTP/2 publish
    /// whose fields a publish ignores (`HTTP2ConnectionHandler.plainPublishHead`).
    static func parseRequestLine(_ line: ByteBuffer) throws(RequestParseError) -> ParsedRequestHead {
        var head = ParsedRequestHead()
        try Self.parseRequestLine(line, into: &head)
        return head
    }

    /// Where the parts of a request line are, as offsets into it.
    private struct RequestLineLayout {
        var methodEnd = 0
        var targetStart = 0
        var targetEnd = 0
        var pathStart = 0
        var pathEnd = 0
        var query: Range<Int>?
        var isHTTP10 = false
        var isAsterisk = false
    }

    /// `http` or `https`, letters in any case.
    private static func isHTTPScheme(_ scheme: UnsafeRawBufferPointer) -> Bool {
        let lowered = scheme.map { $0 | 0x20 }
        return lowered.elementsEqual("http".utf8) || lowered.elementsEqual("https".utf8)
    }

    private static func parseRequestLine(
        _ line: ByteBuffer,
        into head: inout ParsedRequestHead
    ) throws(RequestParseError) {
        let result: Result<RequestLineLayout, RequestParseError> = line.withUnsafeReadableBytes { bytes in
            var layout = RequestLineLayout()
            guard let firstSpace = Self.find(UInt8(ascii: " "), in: bytes, from: 0, to: bytes.count),
                let secondSpace = Self.find(UInt8(ascii: " "), in: bytes, from: firstSpace + 1, to: bytes.count)
            else {
                return .failure(RequestParseError(.badRequest, "malformed request line"))
            }
            guard firstSpace > 0, Self.all(bytes, 0, firstSpace, { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })
            else {
                return .failure(RequestParseError(.badRequest, "malformed method"))
            }
            layout.methodEnd = firstSpace

            let version = UnsafeRawBufferPointer(rebasing: bytes[(secondSpace + 1)...])
            if version.elementsEqual("HTTP/1.1".utf8) {
                layout.isHTTP10 = false
            } else if version.elementsEqual("HTTP/1.0".utf8) {
                layout.isHTTP10 = true
            } else if version.starts(with: "HTTP/".utf8) {
                return .failure(
                    RequestParseError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported here")
                )
            } else {
                return .failure(RequestParseError(.badRequest, "malformed HTTP version"))
            }

            let targetStart = firstSpace + 1
            let targetEnd = secondSpace
            guard targetStart < targetEnd else {
                return .failure(RequestParseError(.badRequest, "malformed request target"))
            }
            // RFC 9112 section 3.2: the target is visible ASCII; other bytes are percent-encoded.
            guard Self.all(bytes, targetStart, targetEnd, { $0 > 0x20 && $0 < 0x7F }) else {
                return .failure(
                    RequestParseError(.badRequest, "request target must be ASCII (percent-encode other bytes)")
                )
            }
            var pathStart = targetStart
            if bytes[targetStart] != UInt8(ascii: "/") {
                if targetEnd - targetStart == 1 && bytes[targetStart] == UInt8(ascii: "*") {
                    layout.isAsterisk = true
                    return .success(layout)
                }
                // Absolute form (a proxy's request): skip "scheme://authority"; the scheme is
                // http or https (RFC 9110 section 4.2), in any case.
                guard let schemeEnd = Self.offset(after: "://", in: bytes, from: targetStart, to: targetEnd),
                    Self.isHTTPScheme(UnsafeRawBufferPointer(rebasing: bytes[targetStart..<(schemeEnd - 3)]))
                else {
                    return .failure(RequestParseError(.badRequest, "malformed request target"))
                }
                pathStart = Self.find(UInt8(ascii: "/"), in: bytes, from: schemeEnd, to: targetEnd) ?? targetEnd
            }
            var end = Self.find(UInt8(ascii: "#"), in: bytes, from: pathStart, to: targetEnd) ?? targetEnd
            if let question = Self.find(UInt8(ascii: "?"), in: bytes, from: pathStart, to: end) {
                layout.query = (question + 1)..<end
                end = question
            }
            layout.pathStart = pathStart
            layout.pathEnd = end
            return .success(layout)
        }
        let layout = try result.get()
        head.method = try Self.method(line.readableSlice(offset: 0, length: layout.methodEnd))
        head.isHTTP10 = layout.isHTTP10
        if layout.isAsterisk {
            head.path = "*"
            return
        }
        if let query = layout.query {
            head.query = line.readableSlice(offset: query.lowerBound, length: query.count)
        }
        head.path =
            layout.pathStart == layout.pathEnd
            ? "/"
            : String(buffer: line.readableSlice(offset: layout.pathStart, length: layout.pathEnd - layout.pathStart))
    }

    /// The methods River knows; any other is 501 (RFC 9110 section 9.1).
    private static func method(_ bytes: ByteBuffer) throws(RequestParseError) -> RequestMethod {
        switch bytes.readableBytes {
        case 3 where bytes.readableBytesEqual("GET"): return .get
        case 3 where bytes.readableBytesEqual("PUT"): return .put
        case 4 where bytes.readableBytesEqual("POST"): return .post
        case 4 where bytes.readableBytesEqual("HEAD"): return .head
        case 5 where bytes.readableBytesEqual("PATCH"): return .patch
        case 6 where bytes.readableBytesEqual("DELETE"): return .delete
        case 7 where bytes.readableBytesEqual("OPTIONS"): return .options
        default: throw RequestParseError(.notImplemented, "method not implemented")
        }
    }

    /// The offset of `byte` in `bytes[from..<to]`, found with `memchr`.
    private static func find(_ byte: UInt8, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress, let found = memchr(base + from, Int32(byte), to - from) else {
            return nil
        }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// True when every byte of `bytes[from..<to]` satisfies `predicate`.
    private static func all(
        _ bytes: UnsafeRawBufferPointer,
        _ from: Int,
        _ to: Int,
        _ predicate: (UInt8) -> Bool
    ) -> Bool {
        var index = from
        while index < to {
            if !predicate(bytes[index]) { return false }
            index += 1
        }
        return true
    }

    /// The offset just after the first `needle` in `bytes[from..<to]`.
    private static func offset(after needle: StaticString, in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int?
    {
        let pattern = UnsafeRawBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        var index = from
        while index + pattern.count <= to {
            if bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index + pattern.count }
            index += 1
        }
        return nil
    }

    /// Splits `name: value`, checking the name is a token and the value has no control bytes.
    /// Keeps a field `keptFields` names (the caller has checked its syntax).
    private static func keep(
        _ line: ByteBuffer,
        _ value: ByteBuffer,
        _ keptFields: Set<String>,
        in head: inout ParsedRequestHead
    ) {
        guard let colon = line.readableBytesView.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: line.readableBytesView[..<colon], as: UTF8.self).lowercased()
        guard keptFields.contains(name) else { return }
        head.keptFields.append((name, String(buffer: value)))
    }

    static func splitField(_ line: ByteBuffer) throws(RequestParseError) -> (KnownField, ByteBuffer) {
        let result: Result<(KnownField, Range<Int>), RequestParseError> = line.withUnsafeReadableBytes { bytes in
            guard let first = bytes.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
                return .failure(RequestParseError(.badRequest, "obsolete line folding is not supported"))
            }
            guard let colon = Self.find(UInt8(ascii: ":"), in: bytes, from: 0, to: bytes.count) else {
                return .failure(RequestParseError(.badRequest, "header line without a colon"))
            }
            let name = UnsafeRawBufferPointer(rebasing: bytes[..<colon])
            guard !name.isEmpty, Self.all(bytes, 0, colon, Self.isTokenByte) else {
                return .failure(RequestParseError(.badRequest, "malformed header field name"))
            }
            var valueStart = colon + 1
            var valueEnd = bytes.count
            while valueStart < valueEnd && (bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09) { valueStart += 1 }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09) {
                valueEnd -= 1
            }
            guard Self.all(bytes, valueStart, valueEnd, { ($0 >= 0x20 || $0 == 0x09) && $0 != 0x7F }) else {
                return .failure(RequestParseError(.badRequest, "control character in header field value"))
            }
            return .success((KnownField(name), valueStart..<valueEnd))
        }
        let (field, range) = try result.get()
        return (field, line.readableSlice(offset: range.lowerBound, length: range.count))
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func parseContentLength(_ value: ByteBuffer) -> Int? {
        value.withUnsafeReadableBytes { bytes in
            guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
            var length = 0
            for byte in bytes {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                length = length * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return length
        }
    }
}

/// The header fields River reads, recognised case-insensitively without allocating.
enum KnownField {
    case contentLength, transferEncoding, connection, expect, contentType, accept, lastEventID
    case origin, cookie, authorization, publishSecret, accessControlRequestMethod, accessControlRequestHeaders
    case upgrade, webSocketKey, webSocketVersion, webSocketExtensions, webSocketProtocol, ifNoneMatch, host, forwarded
    case other

    private static let table: [(StaticString, KnownField)] = [
        ("content-length", .contentLength), ("transfer-encoding", .transferEncoding),
        ("connection", .connection), ("expect", .expect), ("content-type", .contentType),
        ("accept", .accept), ("last-event-id", .lastEventID), ("origin", .origin), ("cookie", .cookie),
        ("authorization", .authorization), ("x-river-secret", .publishSecret),
        ("access-control-request-method", .accessControlRequestMethod),
        ("access-control-request-headers", .accessControlRequestHeaders), ("upgrade", .upgrade),
        ("sec-websocket-key", .webSocketKey), ("sec-websocket-version", .webSocketVersion),
        ("sec-websocket-extensions", .webSocketExtensions), ("sec-websocket-protocol", .webSocketProtocol),
        ("if-none-match", .ifNoneMatch), ("host", .host), ("forwarded", .forwarded),
        ("x-forwarded-for", .forwarded), ("x-real-ip", .forwarded),
    ]

    /// `name` is a token (checked by the caller), so setting bit 0x20 lowercases letters only.
    init(_ name: UnsafeRawBufferPointer) {
        for (candidate, field) in Self.table where candidate.utf8CodeUnitCount == name.count {
            let expected = UnsafeRawBufferPointer(start: candidate.utf8Start, count: candidate.utf8CodeUnitCount)
            var equal = true
            for index in 0..<name.count where expected[index] != name[index] | 0x20 {
                equal = false
                break
            }
            if equal {
                self = field
                return
            }
        }
        self = .other
    }
}

/// The lines of a head, split on CRLF (the parser has checked every LF follows a CR).
struct HeadLines: IteratorProtocol {
    private var remaining: ByteBuffer

    init(_ bytes: ByteBuffer) { self.remaining = bytes }

    mutating func next() -> ByteBuffer? {
        guard self.remaining.readableBytes > 0 else { return nil }
        let newline = self.remaining.readableOffset(of: UInt8(ascii: "\n")) ?? self.remaining.readableBytes
        var length = newline
        if length > 0
            && self.remaining.getInteger(at: self.remaining.readerIndex + newline - 1, as: UInt8.self)
                == UInt8(ascii: "\r")
        {
            length -= 1
        }
        let line = self.remaining.readableSlice(offset: 0, length: length)
        self.remaining.moveReaderIndex(forwardBy: min(newline + 1, self.remaining.readableBytes))
        return line
    }
}
