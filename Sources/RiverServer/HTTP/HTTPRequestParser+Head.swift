import NIOCore

extension HTTPRequestParser {
    /// Parses a complete head (request line, header fields, blank line).
    static func parseHead(_ bytes: ByteBuffer, limits: Limits) throws(HTTPParseError) -> HTTPRequestHead {
        var head = HTTPRequestHead()
        var lines = HeadLines(bytes)
        guard let requestLine = lines.next() else { throw HTTPParseError(.badRequest, "empty request") }
        try Self.parseRequestLine(requestLine, into: &head)

        var fieldCount = 0
        var contentLength: Int?
        var connectionClose = false
        var connectionKeepAlive = false
        var connectionUpgrade = false
        var upgradeWebSocket = false
        var transferEncoding: String?
        while let line = lines.next(), line.readableBytes > 0 {
            fieldCount += 1
            guard fieldCount <= limits.maxHeaderCount else {
                throw HTTPParseError(.headerFieldsTooLarge, "more than \(limits.maxHeaderCount) header fields")
            }
            let (name, value) = try Self.splitField(line)
            switch name {
            case .contentLength:
                guard let length = Self.parseContentLength(value) else {
                    throw HTTPParseError(.badRequest, "Content-Length is not a number")
                }
                if let contentLength, contentLength != length {
                    throw HTTPParseError(.badRequest, "conflicting Content-Length fields")
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
                head.isFormEncoded = String(buffer: value).lowercased().hasPrefix("application/x-www-form-urlencoded")
            case .accept:
                head.acceptsEventStream = String(buffer: value).lowercased().contains("text/event-stream")
            case .lastEventID: head.lastEventID = String(buffer: value)
            case .origin: head.origin = String(buffer: value)
            case .cookie: head.cookie = head.cookie.map { $0 + "; " + String(buffer: value) } ?? String(buffer: value)
            case .authorization: head.authorization = String(buffer: value)
            case .publishSecret: head.publishSecret = String(buffer: value)
            case .accessControlRequestMethod: head.accessControlRequestMethod = String(buffer: value)
            case .accessControlRequestHeaders: head.accessControlRequestHeaders = String(buffer: value)
            case .upgrade:
                upgradeWebSocket = String(buffer: value).lowercased().split(separator: ",")
                    .contains { $0.trimmingSpaces == "websocket" }
            case .webSocketKey: head.webSocketKey = String(buffer: value)
            case .webSocketVersion: head.webSocketVersion = String(buffer: value)
            case .other: break
            }
        }

        if let transferEncoding {
            guard contentLength == nil else {
                throw HTTPParseError(.badRequest, "request has both Content-Length and Transfer-Encoding")
            }
            guard !head.isHTTP10 else { throw HTTPParseError(.badRequest, "HTTP/1.0 request uses Transfer-Encoding") }
            let codings = transferEncoding.split(separator: ",").map { $0.trimmingSpaces }
            guard codings == ["chunked"] else {
                throw HTTPParseError(.notImplemented, "transfer coding '\(transferEncoding)' is not supported")
            }
            head.isChunked = true
        }
        head.contentLength = contentLength
        if let contentLength, contentLength > limits.maxBodyBytes {
            throw HTTPParseError(.contentTooLarge, "request body is larger than \(limits.maxBodyBytes) bytes")
        }
        head.keepAlive = head.isHTTP10 ? (connectionKeepAlive && !connectionClose) : !connectionClose
        head.upgradesToWebSocket = upgradeWebSocket && connectionUpgrade
        if head.isHTTP10 { head.expectsContinue = false }
        return head
    }

    private static func parseRequestLine(_ line: ByteBuffer, into head: inout HTTPRequestHead) throws(HTTPParseError) {
        let view = line.readableBytesView
        guard let firstSpace = view.firstIndex(of: UInt8(ascii: " ")),
            let secondSpace = view[(firstSpace + 1)...].firstIndex(of: UInt8(ascii: " "))
        else {
            throw HTTPParseError(.badRequest, "malformed request line")
        }
        let method = view[view.startIndex..<firstSpace]
        let target = view[(firstSpace + 1)..<secondSpace]
        let version = view[(secondSpace + 1)...]

        guard !method.isEmpty, method.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            throw HTTPParseError(.badRequest, "malformed method")
        }
        head.method = Self.method(method)

        if version.elementsEqual("HTTP/1.1".utf8) {
            head.isHTTP10 = false
        } else if version.elementsEqual("HTTP/1.0".utf8) {
            head.isHTTP10 = true
        } else if version.starts(with: "HTTP/".utf8) {
            throw HTTPParseError(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are supported here")
        } else {
            throw HTTPParseError(.badRequest, "malformed HTTP version")
        }

        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw HTTPParseError(.badRequest, "malformed request target")
        }
        var pathStart = target.startIndex
        if target.first != UInt8(ascii: "/") {
            if target.elementsEqual("*".utf8) {
                head.path = "*"
                return
            }
            // Absolute form (a proxy's request): skip "scheme://authority".
            guard let schemeEnd = Self.range(of: "://", in: target) else {
                throw HTTPParseError(.badRequest, "malformed request target")
            }
            pathStart = target[schemeEnd...].firstIndex(of: UInt8(ascii: "/")) ?? target.endIndex
        }
        var end = target[pathStart...].firstIndex(of: UInt8(ascii: "#")) ?? target.endIndex
        if let question = target[pathStart..<end].firstIndex(of: UInt8(ascii: "?")) {
            let offset = question + 1 - view.startIndex
            head.query = line.getSlice(at: line.readerIndex + offset, length: end - question - 1)!
            end = question
        }
        head.path = pathStart == end ? "/" : String(decoding: target[pathStart..<end], as: UTF8.self)
    }

    private static func method(_ bytes: ByteBufferView.SubSequence) -> HTTPMethod {
        switch bytes.count {
        case 3 where bytes.elementsEqual("GET".utf8): return .get
        case 3 where bytes.elementsEqual("PUT".utf8): return .put
        case 4 where bytes.elementsEqual("POST".utf8): return .post
        case 4 where bytes.elementsEqual("HEAD".utf8): return .head
        case 5 where bytes.elementsEqual("PATCH".utf8): return .patch
        case 6 where bytes.elementsEqual("DELETE".utf8): return .delete
        case 7 where bytes.elementsEqual("OPTIONS".utf8): return .options
        default: return .other(String(decoding: bytes, as: UTF8.self))
        }
    }

    private static func range(of needle: String, in haystack: ByteBufferView.SubSequence) -> Int? {
        let pattern = Array(needle.utf8)
        var index = haystack.startIndex
        while index + pattern.count <= haystack.endIndex {
            if haystack[index..<(index + pattern.count)].elementsEqual(pattern) { return index + pattern.count }
            index += 1
        }
        return nil
    }

    /// Splits `name: value`, checking the name is a token and the value has no control bytes.
    private static func splitField(_ line: ByteBuffer) throws(HTTPParseError) -> (KnownField, ByteBuffer) {
        let view = line.readableBytesView
        guard let first = view.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
            throw HTTPParseError(.badRequest, "obsolete line folding is not supported")
        }
        guard let colon = view.firstIndex(of: UInt8(ascii: ":")) else {
            throw HTTPParseError(.badRequest, "header line without a colon")
        }
        let name = view[view.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else {
            throw HTTPParseError(.badRequest, "malformed header field name")
        }
        var valueStart = colon + 1
        var valueEnd = view.endIndex
        while valueStart < valueEnd && (view[valueStart] == 0x20 || view[valueStart] == 0x09) { valueStart += 1 }
        while valueEnd > valueStart && (view[valueEnd - 1] == 0x20 || view[valueEnd - 1] == 0x09) { valueEnd -= 1 }
        for byte in view[valueStart..<valueEnd] where (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            throw HTTPParseError(.badRequest, "control character in header field value")
        }
        let value = line.getSlice(at: line.readerIndex + (valueStart - view.startIndex), length: valueEnd - valueStart)!
        return (KnownField(name), value)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
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
        let view = value.readableBytesView
        guard !view.isEmpty, view.count <= 18 else { return nil }
        var length = 0
        for byte in view {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            length = length * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return length
    }
}

/// The header fields River reads, recognised case-insensitively without allocating.
enum KnownField {
    case contentLength, transferEncoding, connection, expect, contentType, accept, lastEventID
    case origin, cookie, authorization, publishSecret, accessControlRequestMethod, accessControlRequestHeaders
    case upgrade, webSocketKey, webSocketVersion
    case other

    private static let table: [(String, KnownField)] = [
        ("content-length", .contentLength), ("transfer-encoding", .transferEncoding),
        ("connection", .connection), ("expect", .expect), ("content-type", .contentType),
        ("accept", .accept), ("last-event-id", .lastEventID), ("origin", .origin), ("cookie", .cookie),
        ("authorization", .authorization), ("x-river-secret", .publishSecret),
        ("access-control-request-method", .accessControlRequestMethod),
        ("access-control-request-headers", .accessControlRequestHeaders), ("upgrade", .upgrade),
        ("sec-websocket-key", .webSocketKey), ("sec-websocket-version", .webSocketVersion),
    ]

    init(_ name: ByteBufferView.SubSequence) {
        for (candidate, field) in Self.table where candidate.utf8.count == name.count {
            if zip(candidate.utf8, name).allSatisfy({ $0 == ($1 | 0x20) }) {
                self = field
                return
            }
        }
        self = .other
    }
}

/// The lines of a head, split on LF with an optional preceding CR removed.
struct HeadLines: IteratorProtocol {
    private var remaining: ByteBuffer

    init(_ bytes: ByteBuffer) { self.remaining = bytes }

    mutating func next() -> ByteBuffer? {
        guard self.remaining.readableBytes > 0 else { return nil }
        let view = self.remaining.readableBytesView
        let newline = view.firstIndex(of: UInt8(ascii: "\n")) ?? view.endIndex
        var length = newline - view.startIndex
        let consumed = min(length + 1, view.count)
        if length > 0 && view[newline - 1] == UInt8(ascii: "\r") { length -= 1 }
        let line = self.remaining.getSlice(at: self.remaining.readerIndex, length: length)!
        self.remaining.moveReaderIndex(forwardBy: consumed)
        return line
    }
}
