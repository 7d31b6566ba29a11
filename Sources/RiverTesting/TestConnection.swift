/// A client connection for tests: raw bytes out, HTTP/1.1 responses, chunks
/// and frames in. The same calls work on an in-process River and on a live
/// one; every read is bounded by `readTimeout`, so a test never hangs.
public final class TestConnection: @unchecked Sendable {
    // (@unchecked: a test uses a connection from one task at a time.)
    public struct ResponseHead: Sendable {
        public let version: String
        public let status: Int
        public let headers: [(String, String)]

        /// The first field named `name` (case-insensitively).
        public func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        /// Every field named `name`, in order.
        public func headers(_ name: String) -> [String] {
            self.headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }
    }

    public struct Response: Sendable {
        public let head: ResponseHead
        public let bodyBytes: [UInt8]
        public var body: String { String(decoding: self.bodyBytes, as: UTF8.self) }
        public var status: Int { self.head.status }

        public func header(_ name: String) -> String? { self.head.header(name) }
    }

    let transport: TestTransport
    /// How long a read waits for the server.
    public var readTimeout: Duration
    /// Received bytes; those before `offset` are consumed.
    private var buffer: [UInt8] = []
    private var offset = 0
    /// The server closed the connection (and everything it sent before is in `buffer`).
    private var reachedEnd = false

    init(_ transport: TestTransport, readTimeout: Duration) {
        self.transport = transport
        self.readTimeout = readTimeout
    }

    // MARK: - Sending

    public func send(_ text: String) async throws {
        try await self.transport.send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await self.transport.send(bytes)
    }

    /// Sends an HTTP/1.1 request (with `Host`, and `Content-Length` when there is a body).
    public func sendRequest(_ method: String, _ target: String, headers: [String] = [], body: String? = nil)
        async throws
    {
        try await self.sendRequest(method, target, headers: headers, bodyBytes: body.map { Array($0.utf8) })
    }

    /// Sends an HTTP/1.1 request whose body is any bytes.
    public func sendRequest(_ method: String, _ target: String, headers: [String] = [], bodyBytes: [UInt8]?)
        async throws
    {
        try await self.send(Self.request(method, target, headers: headers, bodyBytes: bodyBytes))
    }

    /// The bytes of an HTTP/1.1 request.
    public static func request(_ method: String, _ target: String, headers: [String] = [], bodyBytes: [UInt8]? = nil)
        -> [UInt8]
    {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for header in headers { text += header + "\r\n" }
        if let bodyBytes { text += "Content-Length: \(bodyBytes.count)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + (bodyBytes ?? [])
    }

    /// Stops reading: what the server writes piles up in the connection
    /// (in-process: at once, as if the socket's buffers were full).
    public func stopReading() async { await self.transport.stopReading() }

    public func resumeReading() async { await self.transport.resumeReading() }

    public func close() async { await self.transport.close() }

    // MARK: - Reading

    /// Reads more bytes; false once the server has closed the connection.
    private func fill() async throws -> Bool {
        if self.reachedEnd { return false }
        guard let bytes = try await self.transport.receive(timeout: self.readTimeout) else {
            self.reachedEnd = true
            return false
        }
        if self.offset > 0 && self.offset >= self.buffer.count / 2 {
            self.buffer.removeFirst(self.offset)
            self.offset = 0
        }
        self.buffer += bytes
        return true
    }

    private func readLine() async throws -> String {
        while true {
            if let newline = self.buffer[self.offset...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > self.offset && self.buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: self.buffer[self.offset..<end], as: UTF8.self)
                self.offset = newline + 1
                return line
            }
            guard try await self.fill() else { throw TestFailure("connection closed mid-line") }
        }
    }

    /// Exactly `count` bytes.
    public func readBytes(_ count: Int) async throws -> [UInt8] {
        while self.buffer.count - self.offset < count {
            guard try await self.fill() else {
                throw TestFailure("connection closed after \(self.buffer.count - self.offset) of \(count) bytes")
            }
        }
        let bytes = Array(self.buffer[self.offset..<(self.offset + count)])
        self.offset += count
        return bytes
    }

    public func readHead() async throws -> ResponseHead {
        let statusLine = try await self.readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw TestFailure("bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try await self.readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw TestFailure("bad header: \(line)") }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces))
        }
        return ResponseHead(version: String(parts[0]), status: status, headers: headers)
    }

    /// The next chunk's data as text, or nil at the terminating chunk.
    public func readChunk() async throws -> String? {
        guard let bytes = try await self.readChunkBytes() else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The next chunk's data, or nil at the terminating chunk.
    public func readChunkBytes() async throws -> [UInt8]? {
        try await self.readChunkWithExtensions()?.data
    }

    /// The next chunk's data and the extensions of its size line (`;river-notice`), or nil at the end.
    public func readChunkWithExtensions() async throws -> (data: [UInt8], extensions: String)? {
        let sizeLine = try await self.readLine()
        let parts = sizeLine.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard let size = Int(parts[0], radix: 16) else { throw TestFailure("bad chunk size line: \(sizeLine)") }
        if size == 0 {
            _ = try await self.readLine()
            return nil
        }
        let data = try await self.readBytes(size)
        guard try await self.readBytes(2) == [13, 10] else { throw TestFailure("chunk not followed by CRLF") }
        return (data, parts.count > 1 ? String(parts[1]) : "")
    }

    /// A whole response: head, then a Content-Length or chunked body (or up to close).
    public func readResponse(forHEAD: Bool = false) async throws -> Response {
        let head = try await self.readHead()
        if forHEAD || (100..<200).contains(head.status) || head.status == 204 || head.status == 304 {
            return Response(head: head, bodyBytes: [])
        }
        if let length = head.header("Content-Length").flatMap({ Int($0) }) {
            return Response(head: head, bodyBytes: try await self.readBytes(length))
        }
        if head.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var body: [UInt8] = []
            while let chunk = try await self.readChunkBytes() { body += chunk }
            return Response(head: head, bodyBytes: body)
        }
        return Response(head: head, bodyBytes: try await self.readToEnd())
    }

    /// Everything until the server closes the connection.
    public func readToEnd() async throws -> [UInt8] {
        while try await self.fill() {}
        return self.takePending()
    }

    /// Whatever arrives next (at least one byte); throws on timeout or close.
    public func readSome() async throws -> [UInt8] {
        if self.buffer.count == self.offset {
            guard try await self.fill() else { throw TestFailure("connection closed") }
        }
        return self.takePending()
    }

    /// True when the server closes the connection within `readTimeout` without
    /// sending anything more; false when it sends something or stays open.
    public func waitForClose() async throws -> Bool {
        guard self.buffer.count == self.offset else { return false }
        do {
            return try await !self.fill()
        } catch is TimedOut {
            return false
        }
    }

    /// Whether the server has closed the connection by now (in-process: once
    /// everything due has run), without waiting.
    public func isClosedByServer() async -> Bool {
        if self.reachedEnd { return true }
        return await self.transport.isClosedByServer()
    }

    /// What the server has sent by now and was not read (in-process: once
    /// everything due has run), without waiting: `[]` means silence.
    public func unreadBytesNow() async throws -> [UInt8] {
        self.buffer += try await self.transport.receiveNow()
        return self.takePending()
    }

    /// Received bytes not read yet.
    public var pendingBytes: [UInt8] { Array(self.buffer[self.offset...]) }

    /// Takes every received byte not read yet.
    public func takePending() -> [UInt8] {
        defer {
            self.buffer.removeAll()
            self.offset = 0
        }
        return Array(self.buffer[self.offset...])
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}

extension TestConnection {
    /// A live connection to any server on 127.0.0.1:`port` (a `river`
    /// process, another node), through SwiftNIO like every live client.
    public static func live(
        port: Int,
        readTimeout: Duration = .seconds(10),
        receiveBufferBytes: Int? = nil
    ) async throws -> TestConnection {
        TestConnection(
            try await LiveTransport.connect(port: port, receiveBufferBytes: receiveBufferBytes),
            readTimeout: readTimeout
        )
    }

    /// One request on a fresh live connection to 127.0.0.1:`port`, and its response.
    public static func request(
        port: Int,
        _ method: String,
        _ target: String,
        headers: [String] = [],
        body: String? = nil,
        readTimeout: Duration = .seconds(10)
    ) async throws -> Response {
        let connection = try await TestConnection.live(port: port, readTimeout: readTimeout)
        try await connection.sendRequest(method, target, headers: headers, body: body)
        let response = try await connection.readResponse(forHEAD: method == "HEAD")
        await connection.close()
        return response
    }
}
