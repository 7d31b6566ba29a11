import NIOCore

/// Counts the messages of a subscriber stream as bytes arrive, with no
/// allocation per message: an HTTP head, then one of the framings River and
/// nchan use. When `capturesPayload` is set it also hands each message's
/// bytes to `onPayload` (latency runs read a timestamp from them), or only
/// the first `payloadPrefix` of them (enough to tell a `river.v2` reply from
/// a message without copying the message).
struct StreamFraming {
    enum Framing {
        /// `Transfer-Encoding: chunked`, one chunk per message.
        case chunked
        /// Server-Sent Events: one event per `data:` line group.
        case eventStream
        /// WebSocket frames (server to client, unmasked), one text frame per message.
        case webSocket
    }

    enum Event {
        case messages(Int)
        /// The response or stream ended (terminating chunk, close frame).
        case ended
    }

    private enum Phase {
        case head(matched: Int)
        case chunkSize(value: Int, inExtension: Bool)
        case chunkSizeLF(value: Int)
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailer(matched: Int)
        case sseLineStart
        case sseLine(isData: Bool, prefix: Int)
        case wsHeader
        case wsPayload(remaining: Int, opcode: UInt8)
        case done
    }

    let framing: Framing
    private var phase: Phase
    private(set) var status = 0
    private var headBytes: [UInt8] = []
    /// Whether the last SSE line read was a data line (an event is then pending).
    private var eventHasData = false
    private var wsHeader: [UInt8] = []
    private let capturesPayload: Bool
    private let payloadPrefix: Int
    private var payload: [UInt8] = []

    init(framing: Framing, expectHead: Bool = true, capturesPayload: Bool = false, payloadPrefix: Int = .max) {
        self.framing = framing
        self.capturesPayload = capturesPayload
        self.payloadPrefix = payloadPrefix
        self.phase = expectHead ? .head(matched: 0) : Self.bodyPhase(framing)
        self.headBytes.reserveCapacity(512)
        self.payload.reserveCapacity(capturesPayload ? min(payloadPrefix, 1024) : 0)
    }

    private static func bodyPhase(_ framing: Framing) -> Phase {
        switch framing {
        case .chunked: return .chunkSize(value: 0, inExtension: false)
        case .eventStream: return .sseLineStart
        case .webSocket: return .wsHeader
        }
    }

    /// The raw head (status line and fields), once read.
    var head: String { String(decoding: self.headBytes, as: UTF8.self) }

    /// Consumes `buffer`; returns the messages completed in it and whether the stream ended.
    mutating func consume(
        _ buffer: ByteBuffer,
        onPayload: (UnsafeRawBufferPointer) -> Void = { _ in }
    ) -> (
        messages: Int, ended: Bool
    ) {
        buffer.withUnsafeReadableBytes { bytes in
            self.consume(bytes, onPayload: onPayload)
        }
    }

    private mutating func consume(
        _ bytes: UnsafeRawBufferPointer,
        onPayload: (UnsafeRawBufferPointer) -> Void
    ) -> (
        messages: Int, ended: Bool
    ) {
        var messages = 0
        var index = 0
        let count = bytes.count
        while index < count {
            switch self.phase {
            case .done:
                return (messages, true)
            case .head(let matched):
                let byte = bytes[index]
                self.headBytes.append(byte)
                index += 1
                let expected: UInt8 = matched % 2 == 0 ? 13 : 10
                let next = byte == expected ? matched + 1 : (byte == 13 ? 1 : 0)
                if next == 4 {
                    self.status = Self.parseStatus(self.headBytes)
                    self.phase = Self.bodyPhase(self.framing)
                } else {
                    self.phase = .head(matched: next)
                }
            case .chunkSize(let value, let inExtension):
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\r"): self.phase = .chunkSizeLF(value: value)
                case UInt8(ascii: "\n"): self.phase = self.afterSize(value, messages: &messages)
                case _ where inExtension: break
                case UInt8(ascii: ";"): self.phase = .chunkSize(value: value, inExtension: true)
                default: self.phase = .chunkSize(value: value << 4 | Self.hex(byte), inExtension: false)
                }
            case .chunkSizeLF(let value):
                index += 1
                self.phase = self.afterSize(value, messages: &messages)
            case .chunkData(let remaining):
                let take = min(remaining, count - index)
                if self.capturesPayload { self.capture(bytes, from: index, count: take) }
                index += take
                self.phase = take == remaining ? .chunkDataCR : .chunkData(remaining: remaining - take)
            case .chunkDataCR:
                index += 1
                self.phase = .chunkDataLF
            case .chunkDataLF:
                index += 1
                messages += 1
                if self.capturesPayload {
                    self.payload.withUnsafeBytes(onPayload)
                    self.payload.removeAll(keepingCapacity: true)
                }
                self.phase = .chunkSize(value: 0, inExtension: false)
            case .trailer(let matched):
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    self.phase = .done
                    return (messages, true)
                }
                self.phase = .trailer(matched: matched + 1)
            case .sseLineStart:
                let byte = bytes[index]
                if byte == UInt8(ascii: "\n") {
                    index += 1
                    if self.eventHasData {
                        messages += 1
                        self.eventHasData = false
                        if self.capturesPayload {
                            self.payload.withUnsafeBytes(onPayload)
                            self.payload.removeAll(keepingCapacity: true)
                        }
                    }
                } else {
                    self.phase = .sseLine(isData: byte == UInt8(ascii: "d"), prefix: 0)
                }
            case .sseLine(let isData, let prefix):
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\n") {
                    if isData { self.eventHasData = true }
                    self.phase = .sseLineStart
                } else {
                    // "data: " is six bytes; capture what follows.
                    if isData && prefix >= 6 && self.capturesPayload && self.payload.count < self.payloadPrefix {
                        self.payload.append(byte)
                    }
                    self.phase = .sseLine(isData: isData, prefix: prefix + 1)
                }
            case .wsHeader:
                self.wsHeader.append(bytes[index])
                index += 1
                guard self.wsHeader.count >= 2 else { continue }
                let short = Int(self.wsHeader[1] & 0x7F)
                let needed = short == 126 ? 4 : (short == 127 ? 10 : 2)
                guard self.wsHeader.count == needed else { continue }
                var length = short
                if short == 126 {
                    length = Int(self.wsHeader[2]) << 8 | Int(self.wsHeader[3])
                } else if short == 127 {
                    length = self.wsHeader[2..<10].reduce(0) { $0 << 8 | Int($1) }
                }
                let opcode = self.wsHeader[0] & 0x0F
                self.wsHeader.removeAll(keepingCapacity: true)
                self.phase = .wsPayload(remaining: length, opcode: opcode)
                if length == 0 { self.finishFrame(opcode: opcode, messages: &messages, onPayload: onPayload) }
            case .wsPayload(let remaining, let opcode):
                let take = min(remaining, count - index)
                if self.capturesPayload && opcode == 1 { self.capture(bytes, from: index, count: take) }
                index += take
                if take == remaining {
                    self.finishFrame(opcode: opcode, messages: &messages, onPayload: onPayload)
                    if case .done = self.phase { return (messages, true) }
                } else {
                    self.phase = .wsPayload(remaining: remaining - take, opcode: opcode)
                }
            }
        }
        if case .done = self.phase { return (messages, true) }
        return (messages, false)
    }

    private mutating func finishFrame(opcode: UInt8, messages: inout Int, onPayload: (UnsafeRawBufferPointer) -> Void) {
        switch opcode {
        case 0x1, 0x2:
            messages += 1
            if self.capturesPayload {
                self.payload.withUnsafeBytes(onPayload)
                self.payload.removeAll(keepingCapacity: true)
            }
            self.phase = .wsHeader
        case 0x8:
            self.phase = .done
        default:
            self.phase = .wsHeader
        }
    }

    /// Keeps `count` bytes from `index` of the payload, up to `payloadPrefix` in all.
    private mutating func capture(_ bytes: UnsafeRawBufferPointer, from index: Int, count: Int) {
        let keep = min(count, self.payloadPrefix - self.payload.count)
        guard keep > 0 else { return }
        self.payload.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + keep)]))
    }

    private func afterSize(_ value: Int, messages: inout Int) -> Phase {
        value == 0 ? .trailer(matched: 0) : .chunkData(remaining: value)
    }

    private static func hex(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A") + 10)
        default: return 0
        }
    }

    static func parseStatus(_ head: [UInt8]) -> Int {
        // "HTTP/1.1 200 ..."
        guard head.count >= 12 else { return 0 }
        return head[9..<12].reduce(0) { $0 * 10 + Int($1 &- UInt8(ascii: "0")) }
    }
}
