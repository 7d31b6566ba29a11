import Testing

@testable import RiverServer

/// The HTTP/1.1 connection's state machine, event by event, without a socket:
/// every event of docs/ConnectionStateMachines.md, in the states it can happen.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = HTTPConnectionHandler.StateMachine

    static let timeouts = ConnectionTimeouts(readTicks: 5, keepAliveTicks: 30)

    func machine(acceptedAt tick: UInt64 = 10) -> Machine {
        Machine(acceptedAt: tick)
    }

    /// A machine answering a request (`keepAlive`: the request asked to keep the connection).
    func answering(keepAlive: Bool = true) -> Machine {
        var machine = self.machine()
        _ = machine.inputReceived(tick: 10, isPolicyFileRequest: false)
        _ = machine.processingWanted()
        _ = machine.requestReceived(keepAlive: keepAlive)
        return machine
    }

    /// A tick has to pass the limit, not reach it: the accept may have come late in tick 10,
    /// so tick 15 may be less than 5 s after it; tick 16 is at least 5 s after.
    @Test func aSilentConnectionIsClosedAtTheReadTimeoutFromAccept() {
        var machine = self.machine()
        let early = machine.tick(15, Self.timeouts)
        let due = machine.tick(16, Self.timeouts)
        #expect(early == .none)
        #expect(due == .close)
    }

    @Test func onlyAConnectionsFirstBytesMayBeAFlashPolicyRequest() {
        var first = self.machine()
        #expect(first.inputReceived(tick: 11, isPolicyFileRequest: true) == .answerPolicyFile)
        #expect(first.state == .closing(since: 11))
        #expect(first.inputReceived(tick: 11, isPolicyFileRequest: true) == .discard)

        var later = self.machine()
        #expect(later.inputReceived(tick: 11, isPolicyFileRequest: false) == .parse)
        #expect(later.inputReceived(tick: 11, isPolicyFileRequest: true) == .parse)
    }

    @Test func theFirstRequestsClockStartsAtAcceptNotAtItsFirstByte() {
        var machine = self.machine()
        #expect(machine.processingWanted() == .parseNext)
        #expect(machine.needMoreInput(partial: true, tick: 14) == .none)
        #expect(machine.state == .receiving(since: 10))
        #expect(machine.tick(15, Self.timeouts) == .none)
        let due = machine.tick(16, Self.timeouts)
        #expect(due == .timeOutRequest)
        #expect(machine.state == .closing(since: 16))
    }

    @Test func aKeptAliveConnectionWaitsForTheKeepAliveTimeoutThenTheReadTimeout() {
        var machine = self.answering()
        #expect(machine.answerReady(closesConnection: false, tick: 12) == .write(keepAlive: true))
        #expect(machine.state == .idle(since: 12, fresh: false))
        #expect(machine.requestHandled() == .parseNext)
        let idle = machine.tick(42, Self.timeouts)
        #expect(idle == .none)
        #expect(machine.needMoreInput(partial: true, tick: 42) == .none)
        #expect(machine.state == .receiving(since: 42))
        let early = machine.tick(47, Self.timeouts)
        let due = machine.tick(48, Self.timeouts)
        #expect(early == .none)
        #expect(due == .timeOutRequest)

        var quiet = self.answering()
        _ = quiet.answerReady(closesConnection: false, tick: 12)
        #expect(quiet.tick(42, Self.timeouts) == .none)
        let expired = quiet.tick(43, Self.timeouts)
        #expect(expired == .close)
    }

    @Test func processingIsNotReenteredAndStopsWhileARequestIsAnswered() {
        var machine = self.machine()
        #expect(machine.processingWanted() == .parseNext)
        #expect(machine.processingWanted() == .alreadyProcessing, "an answer written further down the stack")
        #expect(machine.continueRequired() == .writeContinue)
        #expect(machine.requestReceived(keepAlive: true) == .dispatch)
        #expect(machine.requestHandled() == .stop, "the answer comes later (the engine)")
        #expect(machine.processingWanted() == .stop)
        #expect(machine.deferredAnswerReady() == .proceed)
        #expect(machine.answerReady(closesConnection: false, tick: 11) == .write(keepAlive: true))
        #expect(machine.processingWanted() == .parseNext)
        #expect(machine.needMoreInput(partial: false, tick: 11) == .none)
        #expect(machine.processingWanted() == .parseNext, "processing ended with the parser's need")
    }

    @Test func requestsWaitWhileOneIsAnsweredOrOutputIsOverItsMark() {
        var machine = self.answering()
        let small = machine.readRequested(bufferedInput: 100)
        let full = machine.readRequested(bufferedInput: Machine.maxBufferedInput)
        #expect(small == .read)
        #expect(full == .hold)
        _ = machine.answerReady(closesConnection: false, tick: 11)
        #expect(machine.resumeReading() == .resumeReading)
        #expect(machine.requestHandled() == .parseNext)
        #expect(machine.needMoreInput(partial: false, tick: 11) == .none)

        #expect(machine.writabilityChanged(isWritable: false) == .none)
        #expect(machine.processingWanted() == .stop, "over the mark")
        let blocked = machine.readRequested(bufferedInput: 0)
        #expect(blocked == .hold)
        #expect(machine.resumeReading() == .none, "still over the mark")
        #expect(machine.writabilityChanged(isWritable: true) == .resumeRequests)
        #expect(machine.resumeReading() == .resumeReading)
        #expect(machine.resumeReading() == .none, "a held read is resumed once")
        #expect(machine.processingWanted() == .parseNext)
    }

    @Test func anAnswerOffTheStackIsDroppedOnceTheConnectionClosed() {
        var machine = self.answering()
        #expect(machine.closed() == .cleanUp)
        #expect(machine.deferredAnswerReady() == .drop)
        #expect(machine.answerReady(closesConnection: false, tick: 11) == .drop)
    }

    @Test func aStreamIgnoresInputALongPollLetsItWait() {
        var stream = self.answering()
        #expect(stream.streamStarting(ignoresInput: true, chunked: true) == .start(keepAlive: true, dropParser: true))
        #expect(stream.inputReceived(tick: 11, isPolicyFileRequest: false) == .discard)
        let read = stream.readRequested(bufferedInput: 1 << 20)
        let tick = stream.tick(100, Self.timeouts)
        #expect(read == .read)
        #expect(tick == .tickStream)
        #expect(stream.writabilityChanged(isWritable: true) == .resumeStream)

        var longPoll = self.answering()
        #expect(
            longPoll.streamStarting(ignoresInput: false, chunked: true) == .start(keepAlive: true, dropParser: false)
        )
        #expect(longPoll.inputReceived(tick: 11, isPolicyFileRequest: false) == .parse)
        let held = longPoll.readRequested(bufferedInput: Machine.maxBufferedInput)
        #expect(held == .hold)
        #expect(longPoll.streamEnded(.completed(reusable: true), tick: 20) == .continueWithNextRequest)
        #expect(longPoll.state == .idle(since: 20, fresh: false))
        #expect(longPoll.resumeReading() == .resumeReading)
    }

    @Test func streamsEndByTheirKindAndTheirHeadsSayWhetherTheConnectionStays() {
        var http10 = self.answering()
        #expect(
            http10.streamStarting(ignoresInput: false, chunked: false) == .start(keepAlive: false, dropParser: false)
        )
        #expect(http10.streamEnded(.completed(reusable: true), tick: 12) == .closeAfterWrites)

        var closeRequested = self.answering(keepAlive: false)
        _ = closeRequested.streamStarting(ignoresInput: false, chunked: true)
        #expect(closeRequested.streamEnded(.completed(reusable: true), tick: 12) == .closeAfterWrites)

        var cut = self.answering()
        _ = cut.streamStarting(ignoresInput: true, chunked: true)
        #expect(cut.streamEnded(.cut, tick: 12) == .closeNow)
        #expect(cut.state == .closing(since: 12))

        var refused = self.answering()
        _ = refused.streamStarting(ignoresInput: true, chunked: true)
        #expect(refused.streamEnded(.refused, tick: 12) == .refuseAndClose)

        var closed = self.answering()
        _ = closed.streamStarting(ignoresInput: true, chunked: true)
        _ = closed.closed()
        #expect(closed.streamEnded(.cut, tick: 12) == .none)
    }

    @Test func anUpgradedConnectionBelongsToTheWebSocketHandler() {
        var machine = self.answering()
        #expect(machine.upgrading() == .handOver)
        #expect(machine.state == .upgraded)
        #expect(machine.inputReceived(tick: 11, isPolicyFileRequest: false) == .discard)
        #expect(machine.tick(100, Self.timeouts) == .none)
        #expect(machine.quiesce() == .none)
        #expect(machine.writabilityChanged(isWritable: true) == .none)
        #expect(machine.closed() == .cleanUp)
    }

    @Test func aConnectionThatMustNotBeKeptCloses() {
        var machine = self.answering(keepAlive: false)
        #expect(machine.answerReady(closesConnection: false, tick: 11) == .write(keepAlive: false))
        #expect(machine.state == .closing(since: 11))
        #expect(machine.inputReceived(tick: 11, isPolicyFileRequest: false) == .discard)
        let early = machine.tick(12, Self.timeouts)
        let due = machine.tick(13, Self.timeouts)
        #expect(early == .none)
        #expect(due == .close)

        var unsafe = self.answering(keepAlive: true)
        #expect(unsafe.answerReady(closesConnection: true, tick: 11) == .write(keepAlive: false))
    }

    @Test func shutdownClosesIdleConnectionsEndsStreamsAndKeepsNoConnectionAlive() {
        var idle = self.machine()
        let idleAction = idle.quiesce()
        #expect(idleAction == .close)

        var stream = self.answering()
        _ = stream.streamStarting(ignoresInput: true, chunked: true)
        let streamAction = stream.quiesce()
        #expect(streamAction == .finishStream)
        #expect(stream.streamEnded(.completed(reusable: true), tick: 11) == .closeAfterWrites)

        var answering = self.answering()
        let answeringAction = answering.quiesce()
        #expect(answeringAction == .none)
        #expect(answering.answerReady(closesConnection: false, tick: 11) == .write(keepAlive: false))

        var starting = self.answering()
        _ = starting.quiesce()
        #expect(
            starting.streamStarting(ignoresInput: true, chunked: true) == .start(keepAlive: false, dropParser: true)
        )
    }

    @Test func anUnreadableRequestClosesAndClosingHappensOnce() {
        var machine = self.machine()
        _ = machine.processingWanted()
        #expect(machine.requestUnreadable(tick: 11) == .refuseAndClose)
        #expect(machine.processingWanted() == .stop)
        let first = machine.closed()
        let second = machine.closed()
        #expect(first == .cleanUp)
        #expect(second == .none)
        let tick = machine.tick(100, Self.timeouts)
        #expect(tick == .none)
    }
}
