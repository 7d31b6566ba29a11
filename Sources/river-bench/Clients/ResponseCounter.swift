import NIOCore

/// Counts complete HTTP/1.1 responses on a keep-alive connection (bodies
/// delimited by `Content-Length` or chunked), checking each status is 2xx.
/// Heads are parsed in a reused scratch array; bodies are skipped in place.
struct ResponseCounter {
    private enum Phase {
        case head(matched: Int)
        case body(remaining: Int)
        case chunked(StreamFraming)
    }

    private var phase = Phase.head(matched: 0)
    private var head: [UInt8] = []
    private(set) var failures = 0
    /// The first non-2xx status line seen, for the report.
    private(set) var firstFailure: String?
    /// The body of the last response, when `keepBody` is set.
    private(set) var lastBody: [UInt8] = []
    private let keepBody: Bool

    init(keepBody: Bool = false) {
        self.keepBody = keepBody
        self.head.reserveCapacity(512)
    }

    /// Returns the number of responses completed by `buffer`.
    mutating func consume(_ buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { self.consume($0) }
    }

    mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Int {
        var responses = 0
        var index = 0
        while index < bytes.count {
            switch self.phase {
            case .head(let matched):
                let byte = bytes[index]
                self.head.append(byte)
                index += 1
                let expected: UInt8 = matched % 2 == 0 ? 13 : 10
                let next = byte == expected ? matched + 1 : (byte == 13 ? 1 : 0)
                guard next == 4 else {
                    self.phase = .head(matched: next)
                    continue
                }
                let status = StreamFraming.parseStatus(self.head)
                if status < 200 || status > 299 {
                    self.failures += 1
                    if self.firstFailure == nil {
                        self.firstFailure = String(decoding: self.head.prefix { $0 != 13 }, as: UTF8.self)
                    }
                }
                let (length, chunked) = Self.bodyFraming(self.head)
                self.head.removeAll(keepingCapacity: true)
                if self.keepBody { self.lastBody.removeAll(keepingCapacity: true) }
                if chunked {
                    self.phase = .chunked(StreamFraming(framing: .chunked, expectHead: false))
                } else if length > 0 {
                    self.phase = .body(remaining: length)
                } else {
                    responses += 1
                    self.phase = .head(matched: 0)
                }
            case .body(let remaining):
                let take = min(remaining, bytes.count - index)
                if self.keepBody {
                    self.lastBody.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                }
                index += take
                if take == remaining {
                    responses += 1
                    self.phase = .head(matched: 0)
                } else {
                    self.phase = .body(remaining: remaining - take)
                }
            case .chunked(var framing):
                // Feed byte by byte until the terminating chunk; chunked answers are rare.
                let (_, ended) = framing.consume(
                    ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + 1)]))
                )
                index += 1
                if ended {
                    responses += 1
                    self.phase = .head(matched: 0)
                } else {
                    self.phase = .chunked(framing)
                }
            }
        }
        return responses
    }

    /// `Content-Length` and whether the body is chunked, from a raw head (no allocation).
    private static func bodyFraming(_ head: [UInt8]) -> (length: Int, chunked: Bool) {
        var length = 0
        var chunked = false
        var lineStart = 0
        for index in head.indices where head[index] == 10 {
            let line = head[lineStart..<index]
            lineStart = index + 1
            if let value = Self.value(of: "content-length:", in: line) {
                length = value.reduce(0) { $1 >= 48 && $1 <= 57 ? $0 * 10 + Int($1 - 48) : $0 }
            } else if let value = Self.value(of: "transfer-encoding:", in: line) {
                chunked = value.contains(UInt8(ascii: "k"))  // "chunked"
            }
        }
        return (length, chunked)
    }

    /// The bytes after `name` when `line` starts with it, ignoring case.
    private static func value(of name: StaticString, in line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let count = name.utf8CodeUnitCount
        guard line.count >= count else { return nil }
        var offset = 0
        while offset < count {
            if line[line.startIndex + offset] | 0x20 != name.utf8Start[offset] { return nil }
            offset += 1
        }
        return line[(line.startIndex + count)...]
    }
}
