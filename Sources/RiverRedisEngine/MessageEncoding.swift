import NIOCore
import RiverCore

/// How River writes a message into Redis, compactly and byte for byte.
///
/// - In the history stream, an entry's id is `SEQ-MS` (the message's seq, and
///   the publishing node's clock in milliseconds, which history expiry reads)
///   and it has one field whose name is the message's kind: `t` for text,
///   `b` for binary, its value the payload.
/// - On the pub/sub channel, a message is `KIND EPOCH SEQ\n` followed by the
///   payload; `d` alone announces the channel's deletion; `j`/`l` a presence
///   join or leave (`PresenceScripts`).
enum MessageKind: UInt8 {
    case text = 0x74  // "t"
    case binary = 0x62  // "b"

    init(isBinary: Bool) { self = isBinary ? .binary : .text }

    var isBinary: Bool { self == .binary }

    /// The kind as the one-byte argument the publish script stores.
    var argument: RESPCommand.Argument { .text(self == .binary ? "b" : "t") }
}

/// What Redis pushes on a channel's pub/sub channel.
enum LiveMessage {
    case message(epoch: UInt64, seq: UInt64, kind: MessageKind, payload: ByteBuffer)
    case deleted
    case presence(PresenceEvent.Kind, PresenceMember)

    init?(_ bytes: ByteBuffer) {
        var bytes = bytes
        guard let first = bytes.readInteger(as: UInt8.self) else { return nil }
        if first == UInt8(ascii: "d") && bytes.readableBytes == 0 {
            self = .deleted
            return
        }
        if first == UInt8(ascii: "j") || first == UInt8(ascii: "l") {
            guard let member = PresenceMember(redisEvent: &bytes) else { return nil }
            self = .presence(first == UInt8(ascii: "j") ? .join : .leave, member)
            return
        }
        guard let kind = MessageKind(rawValue: first), bytes.readInteger(as: UInt8.self) == UInt8(ascii: " "),
            let newline = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))
        else { return nil }
        let header = bytes.readableBytesView[bytes.readerIndex..<newline]
        guard let space = header.firstIndex(of: UInt8(ascii: " ")),
            let epoch = UInt64(decimal: header[..<space]), let seq = UInt64(decimal: header[(space + 1)...]),
            seq > 0
        else { return nil }
        bytes.moveReaderIndex(to: newline + 1)
        self = .message(epoch: epoch, seq: seq, kind: kind, payload: bytes)
    }
}

extension PresenceMember {
    /// The member's key in Redis: `v` (verified) or `u` (self-named), then the user's bytes.
    var redisKey: ByteBuffer {
        var key = ByteBuffer()
        key.writeInteger(self.isVerified ? UInt8(ascii: "v") : UInt8(ascii: "u"))
        key.writeString(self.user)
        return key
    }

    /// A member from the rest of a pub/sub presence event, ` LEN KEY INFO`.
    convenience init?(redisEvent bytes: inout ByteBuffer) {
        guard bytes.readInteger(as: UInt8.self) == UInt8(ascii: " ") else { return nil }
        let view = bytes.readableBytesView
        guard let space = view.firstIndex(of: UInt8(ascii: " ")),
            let length = UInt64(decimal: view[view.startIndex..<space]), length >= 1,
            length <= UInt64(bytes.readableBytes)
        else { return nil }
        bytes.moveReaderIndex(to: space + 1)
        guard var key = bytes.readSlice(length: Int(length)), let flag = key.readInteger(as: UInt8.self),
            flag == UInt8(ascii: "v") || flag == UInt8(ascii: "u")
        else { return nil }
        self.init(redisKey: key, flag: flag, info: bytes)
    }

    /// A member from its key's parts and its info bytes (none when empty).
    convenience init(redisKey user: ByteBuffer, flag: UInt8, info: ByteBuffer) {
        self.init(
            user: String(buffer: user),
            info: info.readableBytes > 0 ? info : nil,
            isVerified: flag == UInt8(ascii: "v")
        )
    }
}

/// One entry of a channel's history stream, as XRANGE returns it: `[SEQ-MS, [KIND, payload]]`.
struct HistoryEntry {
    let seq: UInt64
    /// When it was published, in Unix milliseconds (the publishing node's clock).
    let publishedMillis: UInt64
    let kind: MessageKind
    let payload: ByteBuffer

    init?(_ value: RESPValue) {
        guard let parts = value.array, parts.count == 2, let id = parts[0].bytes?.readableBytesView,
            let dash = id.firstIndex(of: UInt8(ascii: "-")),
            let seq = UInt64(decimal: id[..<dash]), seq > 0,
            let millis = UInt64(decimal: id[(dash + 1)...]),
            let fields = parts[1].array, fields.count == 2,
            let name = fields[0].bytes?.readableBytesView, name.count == 1,
            let kind = MessageKind(rawValue: name.first!), let payload = fields[1].bytes
        else { return nil }
        self.seq = seq
        self.publishedMillis = millis
        self.kind = kind
        self.payload = payload
    }
}

extension UInt64 {
    /// An unsigned decimal from bytes; nil for anything else, or anything past UInt64.max.
    init?(decimal bytes: some Collection<UInt8>) {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = sum
        }
        self = value
    }
}
