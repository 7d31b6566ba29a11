import NIOCore
import NIOWebSocket
import RiverCore
import Testing

@testable import RiverServer

/// The WebSocket connection's state machine, event by event, without a socket.
@Suite struct WebSocketStateMachineTests {
    typealias Machine = WebSocketConnectionHandler.StateMachine

    func machine(mayPublish: Bool = true) -> Machine {
        Machine(maxMessageSize: 16, messages: .publish(allowed: mayPublish))
    }

    func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], compressed: Bool = false) -> Machine.Frame {
        Machine.Frame(opcode: opcode, payload: ByteBuffer(bytes: bytes), compressed: compressed)
    }

    @Test func textAndBinaryMessagesArePublishedAsTheyAre() {
        var machine = self.machine()
        #expect(
            machine.received(self.frame(.text, Array("hi".utf8)), tick: 1)
                == .publish(ByteBuffer(string: "hi"), binary: false)
        )
        #expect(
            machine.received(self.frame(.binary, [0xFF]), tick: 1) == .publish(ByteBuffer(bytes: [0xFF]), binary: true)
        )
        #expect(machine.state == .open)
    }

    @Test func compressedMessagesAreInflatedThenJudgedLikeAnyOther() {
        var machine = self.machine()
        let compressed = ByteBuffer(bytes: [0x01])
        #expect(
            machine.received(self.frame(.text, [0x01], compressed: true), tick: 1)
                == .inflate(compressed, binary: false)
        )
        #expect(
            machine.inflated(.success(ByteBuffer(bytes: [0xC3, 0x28])), binary: false, tick: 1)
                == .close(code: 1007, reason: "text message is not valid UTF-8")
        )
        var bomb = self.machine()
        #expect(
            bomb.inflated(.failure(.tooLarge), binary: true, tick: 3)
                == .close(code: 1009, reason: "message inflates past 16 bytes")
        )
        #expect(bomb.state == .closing(since: 3))
    }

    static let badMessages: [(Machine.Frame, UInt16)] = [
        (Machine.Frame(opcode: .text, payload: ByteBuffer(repeating: 0x61, count: 17)), 1009),
        (Machine.Frame(opcode: .text, payload: ByteBuffer(bytes: [0xED, 0xA0, 0x80])), 1007),
        (Machine.Frame(opcode: .init(encodedWebSocketOpcode: 0x3)!, payload: ByteBuffer()), 1002),
    ]

    @Test(arguments: Self.badMessages)
    func badMessagesFailTheConnectionOnce(frame: Machine.Frame, code: UInt16) {
        var machine = self.machine()
        guard case .close(let sent, _) = machine.received(frame, tick: 5) else {
            Issue.record("expected a close")
            return
        }
        #expect(sent == code)
        #expect(machine.state == .closing(since: 5))
        // Only the first failure speaks; later input waits for the peer's close.
        #expect(machine.received(self.frame(.text, Array("x".utf8)), tick: 5) == .none)
        #expect(machine.fail(code: 1001, reason: "again", tick: 5) == .none)
        #expect(machine.received(self.frame(.connectionClose, [0x03, 0xE8]), tick: 6) == .closeSocket)
    }

    @Test func withoutTheRightToPublishAMessageIsAPolicyViolation() {
        var machine = self.machine(mayPublish: false)
        #expect(
            machine.received(self.frame(.text, Array("hi".utf8)), tick: 1)
                == .close(code: 1008, reason: "publishing needs the publish secret or a token")
        )
    }

    @Test func pingsArePongedAndTheClientsCloseIsAnswered() {
        var machine = self.machine()
        #expect(machine.received(self.frame(.ping, [1, 2]), tick: 1) == .pong(ByteBuffer(bytes: [1, 2])))
        #expect(machine.received(self.frame(.pong, []), tick: 1) == .none)
        #expect(machine.received(self.frame(.connectionClose, [0x03]), tick: 2) == .answerClose(code: 1002))
        #expect(machine.received(self.frame(.ping, [1]), tick: 2) == .none)
    }

    static let pipelineErrors: [(any Error, UInt16)] = [
        (NIOWebSocketError.invalidFrameLength, 1009),
        (NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge, 1009),
        (NIOWebSocketFrameAggregator.Error.tooManyFragments, 1009),
        (NIOWebSocketFrameAggregator.Error.didReceiveFragmentBeforeReceivingTextOrBinaryFrame, 1002),
        (WebSocketFrameChecker.Violation(reason: "reserved bits set (RSV2/RSV3)"), 1002),
        (NIOWebSocketError.multiByteControlFrameLength, 1002),
    ]

    @Test(arguments: Self.pipelineErrors)
    func pipelineErrorsMapToTheirStatus(error: Error, code: UInt16) {
        var machine = self.machine()
        guard case .close(let sent, let reason) = machine.errorCaught(error, tick: 1) else {
            Issue.record("expected a close")
            return
        }
        #expect(sent == code)
        #expect(reason.utf8.count <= 123, "a close reason fits a control frame")
    }

    @Test func aClosingConnectionClosesItsSocketAfterTwoTicks() {
        var machine = self.machine()
        #expect(machine.tick(1) == .tickStream)
        #expect(machine.streamEnded(tick: 10) == .none)
        #expect(machine.tick(11) == .none)
        #expect(machine.tick(12) == .closeSocket)
        #expect(machine.connectionClosed() == .cleanUp)
        #expect(machine.connectionClosed() == .none)
        #expect(machine.tick(13) == .none)
    }

    @Test func framesReadWhileSubscribingWaitThenReplayInOrderBeforeReadingResumes() {
        var machine = self.machine()
        #expect(machine.readRequested() == .hold, "no reads until the subscription is in place")
        #expect(machine.frameArrived(self.frame(.text, Array("a".utf8)), tick: 1) == .none)
        #expect(machine.frameArrived(self.frame(.ping, [7]), tick: 1) == .none)
        let settled = machine.subscriptionSettled()
        #expect(
            settled == .replayNextTurn([self.frame(.text, Array("a".utf8)), self.frame(.ping, [7])])
        )
        #expect(machine.readRequested() == .hold, "still held until the frames are handled")
        #expect(
            machine.frameArrived(self.frame(.text, Array("b".utf8)), tick: 2)
                == .publish(ByteBuffer(string: "b"), binary: false)
        )
        #expect(machine.replayed() == .resumeReading)
        #expect(machine.readRequested() == .read)
        #expect(machine.subscriptionSettled() == .none, "a stream that ends later settles nothing more")
    }

    @Test func aSubscriptionThatSettlesWithNothingHeldResumesAHeldRead() {
        var machine = self.machine()
        #expect(machine.readRequested() == .hold)
        #expect(machine.subscriptionSettled() == .resumeReading)
        var unasked = self.machine()
        #expect(unasked.subscriptionSettled() == .none, "no read was held")
        #expect(unasked.readRequested() == .read)
    }

    @Test func readsWaitWhileOutputIsOverItsHighWaterMark() {
        var machine = self.machine()
        _ = machine.subscriptionSettled()
        #expect(machine.writabilityChanged(isWritable: false) == .none)
        #expect(!machine.isWritable)
        #expect(machine.readRequested() == .hold)
        #expect(machine.resumeReading() == .hold)
        #expect(machine.writabilityChanged(isWritable: true) == .resumeOutput)
        #expect(machine.resumeReading() == .read)
        #expect(machine.resumeReading() == .hold, "a held read is resumed once")
    }

    /// `auth_url`: while messages wait for the application, reads wait; once none does, a
    /// held read goes on (and only if output allows it).
    @Test func readsWaitWhileTheApplicationIsAsked() {
        var machine = self.machine()
        _ = machine.subscriptionSettled()
        machine.askingApplication()
        #expect(machine.isAwaitingApplication)
        #expect(machine.readRequested() == .hold)
        #expect(machine.applicationAnswered() == .read)
        #expect(!machine.isAwaitingApplication)
        #expect(machine.readRequested() == .read)

        machine.askingApplication()
        #expect(machine.applicationAnswered() == .hold, "no read was held: nothing to resume")
        machine.askingApplication()
        #expect(machine.readRequested() == .hold)
        #expect(machine.writabilityChanged(isWritable: false) == .none)
        #expect(machine.applicationAnswered() == .hold, "output is still over its mark")
        #expect(machine.writabilityChanged(isWritable: true) == .resumeOutput)
        #expect(machine.resumeReading() == .read)
    }

    @Test func aCommandConnectionHandsOverEveryMessageAndItsFrameMayExceedTheMessageLimit() {
        var machine = Machine(maxMessageSize: 4, messages: .commands)
        _ = machine.subscriptionSettled()
        let long = ByteBuffer(string: "[\"publish\"]")
        #expect(
            machine.received(self.frame(.text, Array(long.readableBytesView)), tick: 1) == .command(long, binary: false)
        )
        #expect(machine.received(self.frame(.binary, [1]), tick: 1) == .command(ByteBuffer(bytes: [1]), binary: true))
        #expect(
            machine.received(self.frame(.text, [0xC3, 0x28]), tick: 1)
                == .close(code: 1007, reason: "text message is not valid UTF-8")
        )
    }

    @Test func shutdownEndsAnOpenConnectionsStreamOnly() {
        var open = self.machine()
        #expect(open.quiesce() == .finishStream)
        var closing = self.machine()
        _ = closing.fail(code: 1002, reason: "x", tick: 1)
        #expect(closing.quiesce() == .none)
    }
}
