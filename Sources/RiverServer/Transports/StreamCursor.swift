import NIOCore
import RiverCore

/// Where a multi-channel subscription stands: for each channel, the last seq
/// the client has and the epoch it belongs to. A multi-channel SSE stream
/// sends it as every message's `id:` (so `Last-Event-ID` resumes every
/// channel), and `/subscribe` takes it as `since`.
///
/// Text form (docs/Transports.md, "Several channels"), which a client can
/// also build from the messages it got:
///
///     cursor = entry *("," entry)
///     entry  = NAME ":" SEQ [":" EPOCH]
///
/// NAME is the channel name's UTF-8 bytes percent-encoded: letters, digits,
/// `-`, `.`, `_` and `~` as they are, every other byte as `%XX`; SEQ and EPOCH
/// are decimal. `news:17:4711,sports:3` says "news up to 17 in epoch 4711,
/// sports up to 3 in whatever epoch it is".
struct StreamCursor: Equatable {
    struct Position: Equatable {
        var seq: UInt64
        var epoch: UInt64?
    }

    private(set) var positions: [ChannelName: Position] = [:]

    init(positions: [ChannelName: Position] = [:]) {
        self.positions = positions
    }

    /// Parses a cursor; a malformed one (or one naming a channel twice) is 400 for `parameter`.
    init(parsing text: String, parameter: String, maxChannelName: Int) throws(RequestError) {
        for entry in text.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let parts = entry.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3 else {
                throw .invalidParameter(parameter, "a cursor entry is NAME:SEQ or NAME:SEQ:EPOCH")
            }
            guard let decoded = Self.percentDecoded(parts[0]) else {
                throw .invalidParameter(parameter, "malformed percent-encoding in a cursor's channel name")
            }
            let name: ChannelName
            do {
                name = try ChannelName(validating: decoded, maxBytes: maxChannelName)
            } catch {
                throw .invalidParameter(parameter, "a cursor's channel name: \(error.description)")
            }
            let seq = try Self.number(parts[1], parameter)
            let epoch = parts.count == 3 ? try Self.number(parts[2], parameter) : nil
            guard self.positions.updateValue(Position(seq: seq, epoch: epoch), forKey: name) == nil else {
                throw .invalidParameter(parameter, "the cursor names channel \(name) twice")
            }
        }
    }

    private static func number(
        _ bytes: Substring.UTF8View.SubSequence,
        _ parameter: String
    ) throws(RequestError)
        -> UInt64
    {
        do {
            return try CheckedNumber.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .invalidParameter(parameter, "a cursor's seq or epoch: \(error.description)")
        }
    }

    /// `%XX` decoding, strictly: no `+` as space (a cursor is no form field).
    private static func percentDecoded(_ bytes: Substring.UTF8View.SubSequence) -> [UInt8]? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                index = bytes.index(after: index)
                continue
            }
            let high = bytes.index(after: index)
            guard high < bytes.endIndex else { return nil }
            let low = bytes.index(after: high)
            guard low < bytes.endIndex, let value = UInt8(String(decoding: bytes[high...low], as: UTF8.self), radix: 16)
            else { return nil }
            decoded.append(value)
            index = bytes.index(after: low)
        }
        return decoded
    }

    /// Writes one entry: `NAME:SEQ` or `NAME:SEQ:EPOCH` (an epoch of 0 is
    /// unknown and left out); returns where the SEQ digits are in `buffer`.
    @discardableResult
    static func writeEntry(
        name: ChannelName,
        seq: UInt64,
        epoch: UInt64,
        into buffer: inout ByteBuffer
    ) -> Range<Int> {
        Self.writeEncodedName(name, into: &buffer)
        buffer.writeStaticString(":")
        let seqStart = buffer.writerIndex
        buffer.writeDecimal(seq)
        let seqDigits = seqStart..<buffer.writerIndex
        if epoch != 0 {
            buffer.writeStaticString(":")
            buffer.writeDecimal(epoch)
        }
        return seqDigits
    }

    /// Writes a channel name as a cursor does (percent-encoded), straight into `buffer`.
    static func writeEncodedName(_ name: ChannelName, into buffer: inout ByteBuffer) {
        // (Most names need no escape: one copy instead of a write per byte.)
        if name.value.utf8.allSatisfy(Self.isUnreserved) {
            buffer.writeString(name.value)
            return
        }
        for byte in name.value.utf8 {
            if Self.isUnreserved(byte) {
                buffer.writeInteger(byte)
            } else {
                buffer.writeInteger(UInt8(ascii: "%"))
                buffer.writeInteger(Self.hexDigits[Int(byte >> 4)])
                buffer.writeInteger(Self.hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    /// RFC 3986's unreserved characters: written as they are.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)
}
