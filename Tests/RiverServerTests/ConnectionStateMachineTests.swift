import Testing

@testable import RiverServer

/// The HTTP/1.1 connection's state machine, event by event, without a socket.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = HTTPConnectionHandler.StateMachine

    static let timeouts = ConnectionTimeouts(readTicks: 5, keepAliveTicks: 30)

    func machine(acceptedAt tick: UInt64 = 10) -> Machine {
        Machine(acceptedAt: tick)
    }

    @Test func aSilentConnectionIsClosedAtTheReadTimeoutFromAccept() {
        var machine = self.machine()
        #expect(machine.isFresh)
        let early = machine.tick(14, Self.timeouts)
        let due = machine.tick(15, Self.timeouts)
        #expect(early == .none)
        #expect(due == .close)
    }

    @Test func theFirstRequestsClockStartsAtAcceptNotAtItsFirstByte() {
        var machine = self.machine()
        machine.awaitingInput(partial: true, tick: 14)
        #expect(machine.state == .receiving(since: 10))
        let due = machine.tick(15, Self.timeouts)
        #expect(due == .timeOutRequest)
        #expect(machine.state == .closing(since: 15))
    }

    @Test func aKeptAliveConnectionWaitsForTheKeepAliveTimeoutThenTheReadTimeout() {
        var machine = self.machine()
        machine.requestReceived()
        let closes = machine.answered(keepAlive: true, tick: 12)
        #expect(!closes)
        #expect(machine.state == .idle(since: 12, fresh: false))
        let idle = machine.tick(41, Self.timeouts)
        #expect(idle == .none)
        machine.awaitingInput(partial: true, tick: 40)
        #expect(machine.state == .receiving(since: 40))
        let early = machine.tick(44, Self.timeouts)
        let due = machine.tick(45, Self.timeouts)
        #expect(early == .none)
        #expect(due == .timeOutRequest)

        var quiet = self.machine()
        quiet.requestReceived()
        _ = quiet.answered(keepAlive: true, tick: 12)
        let expired = quiet.tick(42, Self.timeouts)
        #expect(expired == .close)
    }

    @Test func requestsWaitWhileOneIsAnsweredOrOutputIsOverItsMark() {
        var machine = self.machine()
        #expect(machine.mayAnswerNextRequest)
        machine.requestReceived()
        #expect(!machine.mayAnswerNextRequest)
        let small = machine.readRequested(bufferedInput: 100)
        let full = machine.readRequested(bufferedInput: Machine.maxBufferedInput)
        #expect(small == .read)
        #expect(full == .hold)
        _ = machine.answered(keepAlive: true, tick: 11)
        let resumedAfterAnswer = machine.resumeReading()
        #expect(resumedAfterAnswer)
        #expect(machine.mayAnswerNextRequest)

        machine.writabilityChanged(isWritable: false)
        #expect(!machine.mayAnswerNextRequest)
        let blocked = machine.readRequested(bufferedInput: 0)
        #expect(blocked == .hold)
        let resumedOverTheMark = machine.resumeReading()
        #expect(!resumedOverTheMark, "still over the mark")
        machine.writabilityChanged(isWritable: true)
        #expect(machine.mayAnswerNextRequest)
        let resumedOnce = machine.resumeReading()
        let resumedTwice = machine.resumeReading()
        #expect(resumedOnce)
        #expect(!resumedTwice, "a held read is resumed once")
    }

    @Test func aStreamIgnoresInputALongPollLetsItWait() {
        var stream = self.machine()
        stream.requestReceived()
        stream.streamStarted(ignoresInput: true)
        #expect(stream.discardsInput)
        let read = stream.readRequested(bufferedInput: 1 << 20)
        let tick = stream.tick(100, Self.timeouts)
        #expect(read == .read)
        #expect(tick == .tickStream)

        var longPoll = self.machine()
        longPoll.requestReceived()
        longPoll.streamStarted(ignoresInput: false)
        #expect(!longPoll.discardsInput)
        let held = longPoll.readRequested(bufferedInput: Machine.maxBufferedInput)
        #expect(held == .hold)
        let closes = longPoll.streamEnded(reusable: true, tick: 20)
        #expect(!closes)
        #expect(longPoll.state == .idle(since: 20, fresh: false))
        let resumed = longPoll.resumeReading()
        #expect(resumed)
    }

    @Test func aConnectionThatMustNotBeKeptCloses() {
        var machine = self.machine()
        machine.requestReceived()
        let closes = machine.answered(keepAlive: false, tick: 11)
        #expect(closes)
        #expect(machine.state == .closing(since: 11))
        #expect(machine.discardsInput)
        let early = machine.tick(12, Self.timeouts)
        let due = machine.tick(13, Self.timeouts)
        #expect(early == .none)
        #expect(due == .close)
    }

    @Test func shutdownClosesIdleConnectionsEndsStreamsAndKeepsNoConnectionAlive() {
        var idle = self.machine()
        let idleAction = idle.quiesce()
        #expect(idleAction == .close)

        var stream = self.machine()
        stream.requestReceived()
        stream.streamStarted(ignoresInput: true)
        let streamAction = stream.quiesce()
        #expect(streamAction == .finishStream)
        let closesAfterStream = stream.streamEnded(reusable: true, tick: 11)
        #expect(closesAfterStream, "closes after the stream's last chunk")

        var answering = self.machine()
        answering.requestReceived()
        let answeringAction = answering.quiesce()
        #expect(answeringAction == .none)
        #expect(!answering.keepsAlive(true))
        let closesAfterAnswer = answering.answered(keepAlive: answering.keepsAlive(true), tick: 11)
        #expect(closesAfterAnswer)
    }

    @Test func anUnreadableRequestClosesAndClosingHappensOnce() {
        var machine = self.machine()
        machine.awaitingInput(partial: true, tick: 11)
        machine.requestFailed(tick: 11)
        #expect(!machine.mayAnswerNextRequest)
        let first = machine.closed()
        let second = machine.closed()
        #expect(first)
        #expect(!second)
        let tick = machine.tick(100, Self.timeouts)
        #expect(tick == .none)
    }
}
