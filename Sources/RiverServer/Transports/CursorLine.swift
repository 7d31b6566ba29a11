import NIOCore
import RiverCore

/// A multi-channel event stream's `id: CURSOR` line (`StreamCursor`'s text),
/// kept written between its messages: a message rewrites its own channel's
/// seq digits in place, and the line is rendered whole only when it starts,
/// when a seq gains a digit, or when a channel joins or leaves.
///
/// Each event carries the whole cursor, so rendering it per message was most
/// of what a 20-channel SSE delivery cost (docs/BENCHMARKS.md). The line is
/// shared with the writes that carry it: a rewrite while one still waits for
/// the socket copies it (copy on write), otherwise it happens in place.
final class CursorLine {
    /// Where one channel's SEQ digits are in the line.
    private struct Entry {
        let subscription: ObjectIdentifier
        let seqOffset: UInt32
        let seqWidth: UInt8
    }

    private var line = ByteBuffer()
    /// One per channel, in the stream's order; empty until rendered, and after `invalidate()`.
    private var entries: [Entry] = []

    /// A channel joined (its epoch and seq are set), the set of channels
    /// changed, or the stream went quiet: the line is let go, and the next
    /// one rendered whole.
    func invalidate() {
        self.entries = []
        self.line = ByteBuffer()
    }

    /// The line after `moved` wrote a message (its `writtenSeq` is the message's seq).
    func line(
        after moved: ChannelSubscription,
        of channels: [ChannelSubscription],
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let key = ObjectIdentifier(moved)
        if self.entries.count == channels.count,
            let entry = self.entries.first(where: { $0.subscription == key }),
            self.rewrite(entry, to: moved.writtenSeq)
        {
            return self.line
        }
        self.render(channels, allocator: allocator)
        return self.line
    }

    /// Writes `seq` over the entry's digits; false when it has another width.
    private func rewrite(_ entry: Entry, to seq: UInt64) -> Bool {
        let width = Int(entry.seqWidth)
        guard Self.decimalWidth(seq) == width else { return false }
        let end = Int(entry.seqOffset) + width
        self.line.withUnsafeMutableReadableBytes { bytes in
            var remaining = seq
            var position = end
            repeat {
                position -= 1
                bytes[position] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
        }
        return true
    }

    private func render(_ channels: [ChannelSubscription], allocator: ByteBufferAllocator) {
        var line = allocator.buffer(capacity: 5 + 40 * channels.count)
        line.writeStaticString("id: ")
        self.entries.removeAll(keepingCapacity: true)
        self.entries.reserveCapacity(channels.count)
        for (index, subscription) in channels.enumerated() {
            if index > 0 { line.writeStaticString(",") }
            let seq = StreamCursor.writeEntry(
                name: subscription.channel,
                seq: subscription.writtenSeq,
                epoch: subscription.epoch,
                into: &line
            )
            self.entries.append(
                Entry(
                    subscription: ObjectIdentifier(subscription),
                    seqOffset: UInt32(seq.lowerBound),
                    seqWidth: UInt8(seq.count)
                )
            )
        }
        line.writeStaticString("\n")
        self.line = line
    }

    /// How many decimal digits `value` has (1 for 0).
    private static func decimalWidth(_ value: UInt64) -> Int {
        var width = 1
        var remaining = value
        while remaining >= 10 {
            remaining /= 10
            width += 1
        }
        return width
    }
}

@available(*, unavailable)
extension CursorLine: Sendable {}
