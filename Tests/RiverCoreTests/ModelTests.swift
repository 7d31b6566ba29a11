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

    @Test func homeIndexIsStable() throws {
        let name = try ChannelName(validating: "public-channel", maxBytes: 64)
        #expect(name.stableHash == 0xbbe6_48fb_0aa0_6046)  // FNV-1a, the same in every process
        #expect((0..<100).allSatisfy { _ in name.homeIndex(among: 4) == name.homeIndex(among: 4) })
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
        let catchUp = try self.history(1...10).catchUp(after: 7, currentSeq: 10)
        #expect(catchUp.notice == nil)
        #expect(catchUp.messages.map(\.seq) == [8, 9, 10])
        #expect(catchUp.lastSeq == 10)
    }

    @Test func catchUpSaysLostWhenHistoryIsShorter() throws {
        let catchUp = try self.history(6...10).catchUp(after: 2, currentSeq: 10)
        #expect(catchUp.notice == .lost(from: 3, to: 5))
        #expect(catchUp.messages.map(\.seq) == [6, 7, 8, 9, 10])
        let empty = MessageHistory().catchUp(after: 2, currentSeq: 10)
        #expect(empty.notice == .lost(from: 3, to: 10))
        #expect(empty.messages.isEmpty)
    }

    @Test func catchUpSaysResetWhenAhead() throws {
        let catchUp = try self.history(1...3).catchUp(after: 9, currentSeq: 3)
        #expect(catchUp.notice == .reset(current: 3))
        #expect(catchUp.messages.isEmpty)
        #expect(catchUp.lastSeq == 3)
    }

    @Test func catchUpAtTheHeadIsEmpty() throws {
        let catchUp = try self.history(1...3).catchUp(after: 3, currentSeq: 3)
        #expect(catchUp.isEmpty)
    }
}
