import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for tests: raw bytes out, an HTTP/1.1 response
/// reader in. Every read has a timeout, so a test never hangs.
final class SocketConnection {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct ResponseHead {
        let version: String
        let status: Int
        let headers: [(String, String)]

        func header(_ name: String) -> String? {
            self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    struct Response {
        let head: ResponseHead
        let body: String
        var status: Int { self.head.status }
    }

    private let descriptor: Int32
    /// Received bytes; those before `offset` are consumed.
    private var buffer: [UInt8] = []
    private var offset = 0
    private(set) var isClosed = false

    /// Connects to 127.0.0.1:`port`; `receiveBufferBytes` shrinks the kernel's
    /// receive buffer (a slow consumer that fills up quickly).
    init(port: Int, timeoutSeconds: Int = 10, receiveBufferBytes: Int32? = nil) throws {
        self.descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw Failure(description: "socket() failed: \(errno)") }
        if var size = receiveBufferBytes {
            setsockopt(self.descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(self.descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(self.descriptor)
            throw Failure(description: "connect() failed: \(errno)")
        }
    }

    deinit {
        if !self.isClosed { Glibc.close(self.descriptor) }
    }

    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        Glibc.close(self.descriptor)
    }

    /// Bounds how long a send may block (a peer that stopped reading).
    func setSendTimeout(_ seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sets the read timeout (seconds may be fractional).
    func setReadTimeout(_ seconds: Double) {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws {
        try self.send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send() failed: \(errno)") }
            offset += sent
        }
    }

    /// Sends a request with the given method, target, headers and body.
    func sendRequest(_ method: String, _ target: String, headers: [String] = [], body: String? = nil) throws {
        try self.sendRequest(method, target, headers: headers, bodyBytes: body.map { Array($0.utf8) })
    }

    /// Sends a request whose body is any bytes.
    func sendRequest(_ method: String, _ target: String, headers: [String] = [], bodyBytes: [UInt8]?) throws {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for header in headers { text += header + "\r\n" }
        if let bodyBytes { text += "Content-Length: \(bodyBytes.count)\r\n" }
        text += "\r\n"
        try self.send(Array(text.utf8) + (bodyBytes ?? []))
    }

    // MARK: - Reading

    /// Reads more bytes; false on end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
        if count == 0 { return false }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "read timed out") }
            if errno == ECONNRESET { return false }
            throw Failure(description: "recv() failed: \(errno)")
        }
        if self.offset > 0 && self.offset >= self.buffer.count / 2 {
            self.buffer.removeFirst(self.offset)
            self.offset = 0
        }
        self.buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    private func readLine() throws -> String {
        while true {
            if let newline = self.buffer[self.offset...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > self.offset && self.buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: self.buffer[self.offset..<end], as: UTF8.self)
                self.offset = newline + 1
                return line
            }
            guard try self.fill() else { throw Failure(description: "connection closed mid-line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while self.buffer.count - self.offset < count {
            guard try self.fill() else {
                throw Failure(
                    description: "connection closed after \(self.buffer.count - self.offset) of \(count) bytes"
                )
            }
        }
        let bytes = Array(self.buffer[self.offset..<(self.offset + count)])
        self.offset += count
        return bytes
    }

    func readHead() throws -> ResponseHead {
        let statusLine = try self.readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Failure(description: "bad status line: \(statusLine)")
        }
        var headers: [(String, String)] = []
        while true {
            let line = try self.readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header: \(line)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: " ")))
        }
        return ResponseHead(version: String(parts[0]), status: status, headers: headers)
    }

    /// The next chunk's data, or nil at the terminating chunk.
    func readChunk() throws -> String? {
        guard let bytes = try self.readChunkBytes() else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    func readChunkBytes() throws -> [UInt8]? {
        let sizeLine = try self.readLine()
        guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
            throw Failure(description: "bad chunk size line: \(sizeLine)")
        }
        if size == 0 {
            _ = try self.readLine()
            return nil
        }
        let data = try self.readExactly(size)
        let end = try self.readExactly(2)
        guard end == [13, 10] else { throw Failure(description: "chunk not followed by CRLF") }
        return data
    }

    /// A whole response: head, then a Content-Length or chunked body (or up to close).
    func readResponse(forHEAD: Bool = false) throws -> Response {
        let head = try self.readHead()
        if forHEAD || head.status == 100 || head.status == 204 { return Response(head: head, body: "") }
        if let length = head.header("Content-Length").flatMap({ Int($0) }) {
            return Response(head: head, body: String(decoding: try self.readExactly(length), as: UTF8.self))
        }
        if head.header("Transfer-Encoding")?.lowercased() == "chunked" {
            var body = ""
            while let chunk = try self.readChunk() { body += chunk }
            return Response(head: head, body: body)
        }
        return Response(head: head, body: String(decoding: try self.readToEnd(), as: UTF8.self))
    }

    /// Everything until the peer closes.
    func readToEnd() throws -> [UInt8] {
        while try self.fill() {}
        return self.takePending()
    }

    /// True when the peer closes (or resets) the connection within the read timeout
    /// without sending anything more.
    func waitForClose() throws -> Bool {
        do {
            let closed = try !self.fill()
            return closed
        } catch let failure as Failure where failure.description == "read timed out" {
            return false
        }
    }

    /// Raw bytes received so far and not consumed.
    var pendingBytes: [UInt8] { Array(self.buffer[self.offset...]) }

    func fillForTests() throws -> Bool { try self.fill() }

    func readExactlyForTests(_ count: Int) throws -> [UInt8] { try self.readExactly(count) }

    func takePending() -> [UInt8] {
        defer {
            self.buffer.removeAll()
            self.offset = 0
        }
        return Array(self.buffer[self.offset...])
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(self).trimmingCharacters(in: set)
    }
}

/// One request on a fresh connection.
func httpRequest(
    port: Int,
    _ method: String,
    _ target: String,
    headers: [String] = [],
    body: String? = nil
) throws -> SocketConnection.Response {
    let connection = try SocketConnection(port: port)
    defer { connection.close() }
    try connection.sendRequest(method, target, headers: headers, body: body)
    return try connection.readResponse(forHEAD: method == "HEAD")
}

extension SocketConnection {
    /// Whatever arrives next (at least one byte), or throws on timeout or close.
    func readSome() throws -> [UInt8] {
        if self.pendingBytes.isEmpty {
            guard try self.fillForTests() else { throw Failure(description: "connection closed") }
        }
        return self.takePending()
    }
}
