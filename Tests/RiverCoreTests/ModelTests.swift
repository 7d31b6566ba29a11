import NIOCore
import Testing

@testable import RiverCore

/// Channel names and the history's catch-up answers.
@Suite struct ModelTests {
    @Test func channelNameValidation() throws {
        #expect(try ChannelName(validating: "public-channel", maxBytes: 64).value == "public-channel")
        #expect(try ChannelName(validating: "café 🚀", maxBytes: 64).value == "café 🚀")
        #expect(throws: ChannelName.ValidationError(description: "channel name is empty")) {
            try ChannelName(validating: "", maxBytes: 64)
        }
        #expect(throws: ChannelName.ValidationError(description: "channel name is longer than 3 bytes")) {
            try ChannelName(validating: "abcd", maxBytes: 3)
        }
        #expect(throws: ChannelName.ValidationError(description: "channel name is not valid UTF-8")) {
            try ChannelName(validating: [0xFF, 0x41], maxBytes: 64)
        }
        #expect(throws: ChannelName.ValidationError(description: "channel name contains a control character")) {
            try ChannelName(validating: "a\tb", maxBytes: 64)
        }
    }

    @Test func aNameIsItsBytes() throws {
        let composed = try ChannelName(validating: "room-\u{F1}", maxBytes: 64)
        let decomposed = try ChannelName(validating: "room-n\u{303}", maxBytes: 64)
        #expect(composed.value == decomposed.value)  // Swift's String: canonically equivalent
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect([composed: 1, decomposed: 2][decomposed] == 2)
        #expect(decomposed < composed)  // 0x6E before 0xC3
        #expect(!(composed < decomposed))
        #expect(try ChannelName(validating: "room-\u{F1}", maxBytes: 64) == composed)
        #expect(try ChannelName(validating: "room-\u{F1}", maxBytes: 64).hashValue == composed.hashValue)
        let accented = try ChannelName(validating: "private-\u{301}secret", maxBytes: 64)
        #expect(!accented.value.hasPrefix("private-"))  // what a String prefix check would say
        #expect(accented.hasPrefix(bytesOf: "private-"))
        #expect(!decomposed.hasPrefix(bytesOf: "room-\u{F1}"))
        #expect(composed.sorts(after: "room-n\u{303}"))
        #expect(!composed.sorts(after: "room-\u{F1}"))
        // The Kelvin sign is canonically "K": one String, two names.
        #expect(try ChannelName(validating: "\u{212A}", maxBytes: 8) != ChannelName(validating: "K", maxBytes: 8))
    }

    @Test func homeIndexIsStable() throws {
        let name = try ChannelName(validating: "public-channel", maxBytes: 64)
        #expect(name.stableHash == 0xbbe6_48fb_0aa0_6046)  // FNV-1a, the same in every process
        // The hash modulo the count: the same index on every node, whatever the process.
        #expect(name.homeIndex(among: 4) == 2)
        #expect(name.homeIndex(among: 7) == 5)
        #expect(name.homeIndex(among: 16) == 6)
        let spread = Set((0..<64).map { try! ChannelName(validating: "c\($0)", maxBytes: 64).homeIndex(among: 4) })
        #expect(spread == [0, 1, 2, 3])
    }

    func history(_ seqs: ClosedRange<UInt64>) throws -> MessageHistory {
        let name = try ChannelName(validating: "h", maxBytes: 8)
        var history = MessageHistory()
        for seq in seqs {
            history.append(
                Message(channel: name, seq: seq, payload: ByteBuffer(string: "m\(seq)"), publishedAt: .now())
            )
        }
        return history
    }

    @Test func catchUpReplaysAfterSeq() throws {
        let catchUp = try self.history(1...10).catchUp(from: ResumePoint(seq: 7), currentSeq: 10, epoch: 9)
        #expect(catchUp.notices.isEmpty)
        #expect(catchUp.messages.map(\.seq) == [8, 9, 10])
        #expect(catchUp.lastSeq == 10)
        #expect(try self.history(1...3).catchUp(from: ResumePoint(seq: 3), currentSeq: 3, epoch: 9).isEmpty)
        #expect(try self.history(1...3).catchUp(from: .live, currentSeq: 3, epoch: 9).isEmpty)
    }

    @Test func catchUpSaysLostWhenHistoryIsShorter() throws {
        let catchUp = try self.history(6...10).catchUp(from: ResumePoint(seq: 2), currentSeq: 10, epoch: 9)
        #expect(catchUp.notices == [.lost(from: 3, to: 5)])
        #expect(catchUp.messages.map(\.seq) == [6, 7, 8, 9, 10])
        let empty = MessageHistory().catchUp(from: ResumePoint(seq: 2), currentSeq: 10, epoch: 9)
        #expect(empty.notices == [.lost(from: 3, to: 10)])
        #expect(empty.messages.isEmpty)
    }

    @Test func aheadOrAnotherEpochIsAResetThatReplaysWhatIsRetained() throws {
        for point in [ResumePoint(seq: 9), ResumePoint(seq: 2, epoch: 8)] {
            let catchUp = try self.history(2...3).catchUp(from: point, currentSeq: 3, epoch: 9)
            #expect(catchUp.notices == [.reset(current: 3, epoch: 9), .lost(from: 1, to: 1)])
            #expect(catchUp.messages.map(\.seq) == [2, 3])
            #expect(catchUp.lastSeq == 3)
        }
        // The same epoch is not a reset.
        let same = try self.history(2...3).catchUp(from: ResumePoint(seq: 2, epoch: 9), currentSeq: 3, epoch: 9)
        #expect(same.notices.isEmpty)
        #expect(same.messages.map(\.seq) == [3])
    }

    @Test func helloAnnouncesWhereTheStreamStarts() throws {
        let live = try self.history(1...3).catchUp(from: ResumePoint(hello: true), currentSeq: 3, epoch: 9)
        #expect(live.notices == [.live(seq: 3, epoch: 9)])
        let resumed = try self.history(1...3).catchUp(from: ResumePoint(seq: 1, hello: true), currentSeq: 3, epoch: 9)
        #expect(resumed.notices == [.live(seq: 1, epoch: 9)])
        #expect(resumed.messages.map(\.seq) == [2, 3])
        let reset = try self.history(1...3).catchUp(from: ResumePoint(seq: 7, hello: true), currentSeq: 3, epoch: 9)
        #expect(reset.notices == [.reset(current: 3, epoch: 9), .live(seq: 0, epoch: 9)])
        #expect(reset.messages.map(\.seq) == [1, 2, 3])
    }
}
