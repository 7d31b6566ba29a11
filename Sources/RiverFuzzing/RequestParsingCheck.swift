import NIOCore
import RiverServer

/// The properties the fuzzer (Fuzz/) and the test suite check on arbitrary
/// bytes arriving on a connection: parsing never crashes or loops, gives the
/// same requests and the same error however the bytes are split into reads,
/// parameter decoding agrees with a plain reference decoder, and numbers
/// (`seq`, the listing's `limit`) are answered or refused, never trapped on. `check` returns
/// what was violated; the fuzzer's entry point stops the process with it, a test fails with it.
public enum RequestParsingCheck {
    public static let limits = HTTPRequestParser.Limits(
        maxRequestLine: 512,
        maxHeaderBytes: 1024,
        maxHeaderCount: 16,
        maxBodyBytes: 2048
    )

    /// The first property `bytes` violates, or nil.
    public static func check(_ bytes: UnsafeRawBufferPointer) -> String? {
        var violation: String?
        let whole = Self.parse(bytes, splitAt: [], violation: &violation)
        if let violation { return violation }
        let split = bytes.count > 1 ? Int(bytes[0]) % bytes.count : 0
        if Self.parse(bytes, splitAt: [split], violation: &violation) != whole {
            return "a split at \(split) changed the result"
        }
        if bytes.count <= 512
            && Self.parse(bytes, splitAt: Array(1..<max(bytes.count, 1)), violation: &violation) != whole
        {
            return "byte-by-byte differs"
        }
        return violation
    }

    /// What parsing `bytes` delivered, read in pieces split at `offsets`; the
    /// first property a request broke on the way goes to `violation`.
    static func parse(_ bytes: UnsafeRawBufferPointer, splitAt offsets: [Int], violation: inout String?) -> [String] {
        let parser = HTTPRequestParser(limits: Self.limits)
        var transcript: [String] = []
        var start = 0
        for end in offsets + [bytes.count] where end >= start {
            parser.append(ByteBuffer(bytes: bytes[start..<end]))
            start = end
            while true {
                let event: HTTPRequestParser.Event
                do {
                    event = try parser.next()
                } catch {
                    transcript.append("error \(error.status.code) \(error.reason)")
                    return transcript
                }
                switch event {
                case .needMoreData:
                    break
                case .continueRequired:
                    continue  // depends on how the body arrives: not compared
                case .request(let request):
                    transcript.append(Self.describe(request, violation: &violation))
                    continue
                }
                break
            }
        }
        return transcript
    }

    /// A request as text, with what every parameter reader makes of it.
    static func describe(_ request: ParsedRequest, violation: inout String?) -> String {
        let head = request.head
        var text = "\(head.method) \(head.path) ?\(Array(head.query.readableBytesView)) http10=\(head.isHTTP10)"
        text += " keepAlive=\(head.keepAlive) length=\(head.contentLength ?? -1) chunked=\(head.isChunked)"
        text += " form=\(head.isFormEncoded) body=\(Array(request.body.readableBytesView))"
        text += " route=\(Router.route(head.path))"
        let parameters = RequestParameters(query: head.query, formBody: head.isFormEncoded ? request.body : nil)
        text += " name=" + Self.outcome(&violation) { try parameters.channelName(maxBytes: 64).value }
        text += " callback=" + Self.outcome(&violation) { try parameters.string("callback") ?? "-" }
        text += " seq=" + Self.outcome(&violation) { try parameters.unsignedInteger("seq").map { "\($0)" } ?? "-" }
        // Every number a client sends is checked, never converted with a trapping initializer.
        text += " limit=" + Self.outcome(&violation) { "\(try ChannelListQuery(query: head.query).limit)" }
        let data = Self.outcome(&violation) {
            try parameters.bytes("data").map { "\(Array($0.readableBytesView))" } ?? "-"
        }
        text += " data=" + data
        if !head.isFormEncoded {
            let reference = Self.referenceValue(of: "data", in: Array(head.query.readableBytesView))
            if data != reference && violation == nil {
                violation = "data decoded as \(data), the reference says \(reference)"
            }
        }
        return text
    }

    private static func outcome(_ violation: inout String?, _ body: () throws -> String) -> String {
        do {
            return try body()
        } catch let error as RequestError {
            return "error \(error.status.code) \(error.reason)"
        } catch {
            if violation == nil { violation = "parameters threw \(error), not a RequestError" }
            return "error \(error)"
        }
    }

    /// The first `key=value` pair's value, decoded the simplest way possible.
    static func referenceValue(of key: String, in query: [UInt8]) -> String {
        for pair in query.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), name == Array(key.utf8) else { continue }
            guard let value = Self.decode(parts.count > 1 ? parts[1] : []) else {
                return "error 400 invalid '\(key)' parameter: malformed percent-encoding"
            }
            return "\(value)"
        }
        return "-"
    }

    private static func decode(_ encoded: ArraySlice<UInt8>) -> [UInt8]? {
        var decoded: [UInt8] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let byte = encoded[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < encoded.endIndex,
                    let high = Self.hex(encoded[index + 1]), let low = Self.hex(encoded[index + 2])
                else { return nil }
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return decoded
    }

    private static func hex(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
