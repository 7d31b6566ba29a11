/// Reads what a server wrote on one connection as HTTP/1.1 responses and
/// names the first thing wrong with it (`DispatchCheck`'s properties).
enum ResponseStream {
    /// The first violation in `output`, or nil when it is well-formed.
    /// `methods` are those of the requests the server parsed, in order: the
    /// answer to a `HEAD` has no body.
    static func violation(in output: [UInt8], methods: [String], listedOrigin: String) -> String? {
        var index = 0
        var answered = 0
        while index < output.count {
            guard let headEnd = Self.find([13, 10, 13, 10], in: output, from: index) else {
                return "a response head is cut short: \(Self.text(output[index...]))"
            }
            let lines = Self.split(Array(output[index..<headEnd]))
            index = headEnd + 4
            guard let statusLine = lines.first, statusLine.count >= 12,
                statusLine.starts(with: "HTTP/1.".utf8), statusLine[12...].allSatisfy(Self.isPrintable),
                let status = Int(String(decoding: statusLine[9..<12], as: UTF8.self)), (100...599).contains(status)
            else { return "malformed status line: \(Self.text(lines.first ?? []))" }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
                    line[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }),
                    line[(colon + 1)...].allSatisfy({ Self.isPrintable($0) || $0 == 0x09 })
                else { return "malformed header line: \(Self.text(line))" }
                let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
                headers[name] = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
            }
            if let problem = Self.corsViolation(headers, listedOrigin: listedOrigin) { return problem }
            switch status {
            case 101: return nil  // WebSocket frames follow
            case 100..<200: continue
            case 204, 304:
                answered += 1
                continue
            default: break
            }
            let isAnswerToHead = answered < methods.count && methods[answered] == "HEAD"
            answered += 1
            let body: [UInt8]
            if isAnswerToHead {
                body = []
            } else if let lengthText = headers["content-length"] {
                guard let length = Int(lengthText), length >= 0 else { return "bad Content-Length \(lengthText)" }
                guard index + length <= output.count else { return "a body is cut short" }
                body = Array(output[index..<(index + length)])
                index += length
            } else if headers["transfer-encoding"] == "chunked" {
                switch Self.skipChunks(output, from: &index) {
                case .ended: continue
                case .open: return nil  // a stream still open: the end of what was written
                case .malformed(let why): return why
                }
            } else {
                return nil  // an HTTP/1.0 or SSE stream: everything else is its body
            }
            if status >= 400, !isAnswerToHead, let problem = Self.refusalViolation(status, headers, body) {
                return problem
            }
        }
        return nil
    }

    /// A refusal is plain text browsers must not sniff, one line of printable ASCII.
    private static func refusalViolation(_ status: Int, _ headers: [String: String], _ body: [UInt8]) -> String? {
        guard headers["content-type"]?.hasPrefix("text/plain") == true else { return "\(status) is not text/plain" }
        guard headers["x-content-type-options"] == "nosniff" else { return "\(status) without nosniff" }
        guard body.last == 10, body.dropLast().allSatisfy(Self.isPrintable) else {
            return "\(status)'s reason is not one printable line: \(Self.text(body))"
        }
        return nil
    }

    /// Credentials go only with the origin listed by name, never with `*`.
    private static func corsViolation(_ headers: [String: String], listedOrigin: String) -> String? {
        guard headers["access-control-allow-credentials"] != nil else { return nil }
        let origin = headers["access-control-allow-origin"]
        return origin == listedOrigin ? nil : "credentials allowed for origin \(origin ?? "none")"
    }

    private enum ChunkedBody {
        case ended, open
        case malformed(String)
    }

    /// Skips `HEX CRLF data CRLF` chunks up to the last chunk and its blank line.
    private static func skipChunks(_ output: [UInt8], from index: inout Int) -> ChunkedBody {
        while index < output.count {
            guard let lineEnd = Self.find([13, 10], in: output, from: index) else { return .open }
            guard let size = Int(String(decoding: output[index..<lineEnd], as: UTF8.self), radix: 16), size >= 0 else {
                return .malformed("bad chunk size \(Self.text(output[index..<lineEnd]))")
            }
            index = lineEnd + 2
            if size == 0 {
                guard index + 2 <= output.count else { return .open }
                guard output[index] == 13, output[index + 1] == 10 else {
                    return .malformed("no CRLF after the last chunk")
                }
                index += 2
                return .ended
            }
            guard index + size + 2 <= output.count else { return .open }
            guard output[index + size] == 13, output[index + size + 1] == 10 else {
                return .malformed("chunk not followed by CRLF")
            }
            index += size + 2
        }
        return .open
    }

    private static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte < 0x7F }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func split(_ head: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while let end = Self.find([13, 10], in: head, from: start) {
            lines.append(head[start..<end])
            start = end + 2
        }
        lines.append(head[start...])
        return lines
    }

    private static func text(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription
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
