import NIOCore

/// What Redis pushes on a channel's pub/sub channel: a message
/// (`m EPOCH SEQ\n` + the message) or the channel's deletion (`d`).
enum LiveMessage {
    case message(epoch: UInt64, seq: UInt64, payload: ByteBuffer)
    case deleted

    init?(_ bytes: ByteBuffer) {
        var bytes = bytes
        guard let kind = bytes.readInteger(as: UInt8.self) else { return nil }
        if kind == UInt8(ascii: "d") && bytes.readableBytes == 0 {
            self = .deleted
            return
        }
        guard kind == UInt8(ascii: "m"), bytes.readInteger(as: UInt8.self) == UInt8(ascii: " "),
            let newline = bytes.readableBytesView.firstIndex(of: UInt8(ascii: "\n")),
            let header = bytes.readString(length: newline - bytes.readerIndex)
        else { return nil }
        bytes.moveReaderIndex(forwardBy: 1)
        let fields = header.split(separator: " ")
        guard fields.count == 2, let epoch = UInt64(fields[0]), let seq = UInt64(fields[1]) else { return nil }
        self = .message(epoch: epoch, seq: seq, payload: bytes)
    }
}
