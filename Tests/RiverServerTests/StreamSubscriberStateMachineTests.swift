import Testing

@testable import RiverServer

/// The subscription's state machine, event by event, without an output:
/// every event of docs/ConnectionStateMachines.md in every state it can
/// happen in. (Impossible events trap in debug builds and are not sent.)
@Suite struct StreamSubscriberStateMachineTests {
    typealias Machine = StreamSubscriber.StateMachine

    static let timeouts = ConnectionTimeouts(readTicks: 5, keepAliveTicks: 30, clientTicks: 60, heartbeatTicks: 10)

    /// `#expect(actual == expected)` for an `actual` that changes the machine (the macro cannot take a mutating call).
    func check<Action: Equatable>(
        _ actual: Action,
        _ expected: Action,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(actual == expected, sourceLocation: sourceLocation)
    }

    /// A machine subscribing to `channels` channels.
    func subscribing(_ channels: Int, longPoll: Bool = false) -> Machine {
        var machine = Machine(endsAfterFirstBatch: longPoll)
        machine.subscribing(channels: channels)
        return machine
    }

    /// A stream past its catch-up, writing live messages.
    func live() -> Machine {
        var machine = self.subscribing(1)
        _ = machine.channelSubscribed(hasCatchUp: false)
        _ = machine.begin(hasWaiting: false)
        _ = machine.backlogDrained()
        #expect(machine.state == .live)
        return machine
    }

    @Test func channelsAnswerOneByOneAndTheLastBegins() {
        var machine = self.subscribing(3)
        #expect(machine.state == .subscribing(pending: 3, anyCatchUp: false))
        check(machine.channelSubscribed(hasCatchUp: false), .join)
        check(machine.channelSubscribed(hasCatchUp: true), .join)
        #expect(machine.state == .subscribing(pending: 1, anyCatchUp: true))
        check(machine.channelSubscribed(hasCatchUp: false), .joinAndBegin)
        #expect(machine.state == .subscribing(pending: 0, anyCatchUp: true))
    }

    @Test func aStreamWritesItsCatchUpThenGoesLive() {
        var machine = self.subscribing(1)
        _ = machine.channelSubscribed(hasCatchUp: false)
        check(machine.begin(hasWaiting: true), .writeCatchUp(keepWaiting: true))
        #expect(machine.state == .catchingUp)
        check(machine.batchOffered(backlogIsEmpty: true, isWritable: true), .queue)
        check(machine.outputWritable(), .writeBacklog)
        check(machine.backlogDrained(), .goLive)
        #expect(machine.state == .live)
        check(machine.backlogDrained(), .none)
    }

    @Test func aLongPollWithCatchUpAnswersWithItAlone() {
        var machine = self.subscribing(1, longPoll: true)
        _ = machine.channelSubscribed(hasCatchUp: true)
        check(machine.begin(hasWaiting: true), .writeCatchUp(keepWaiting: false))
        // Live messages meanwhile are the next poll's to fetch.
        check(machine.batchOffered(backlogIsEmpty: true, isWritable: true), .ignore)
        check(machine.backlogDrained(), .end)
    }

    @Test func aLongPollWithoutCatchUpAnswersWithItsFirstMessage() {
        var waiting = self.subscribing(1, longPoll: true)
        _ = waiting.channelSubscribed(hasCatchUp: false)
        check(waiting.begin(hasWaiting: true), .answerWithFirstWaiting)
        #expect(waiting.state == .awaitingFirst)

        var idle = self.subscribing(1, longPoll: true)
        _ = idle.channelSubscribed(hasCatchUp: false)
        check(idle.begin(hasWaiting: false), .awaitLive)
        check(idle.outputWritable(), .none)
        check(idle.batchOffered(backlogIsEmpty: true, isWritable: false), .writeFirstAndEnd)
    }

    @Test func messagesWhileSubscribingWait() {
        var machine = self.subscribing(2)
        check(machine.batchOffered(backlogIsEmpty: true, isWritable: true), .queue)
        check(machine.outputWritable(), .none)
        check(machine.backlogDrained(), .none)
    }

    @Test func liveMessagesAreWrittenOnlyWhenNothingWaitsAndTheOutputTakesThem() {
        var machine = self.live()
        check(machine.batchOffered(backlogIsEmpty: true, isWritable: true), .write)
        check(machine.batchOffered(backlogIsEmpty: false, isWritable: true), .queue)
        check(machine.batchOffered(backlogIsEmpty: true, isWritable: false), .queue)
        check(machine.outputWritable(), .writeBacklog)
    }

    @Test func aFailedChannelRefusesWhileSubscribingAndIsReportedAlone() {
        var subscribing = self.subscribing(2)
        check(subscribing.channelFailed(), .refuse)
        #expect(subscribing.state == .ended)
        // The other channel answers after the refusal: withdraw it.
        check(subscribing.channelSubscribed(hasCatchUp: false), .release)
        check(subscribing.channelFailed(), .none)

        var live = self.live()
        check(live.channelFailed(), .report)
        #expect(live.state == .live)
    }

    @Test func channelsAddedToARunningStreamJoinAndWrite() {
        var machine = self.live()
        check(machine.addingChannel(), true)
        check(machine.channelSubscribed(hasCatchUp: true), .joinAndWrite)
        #expect(machine.state == .live)
        _ = machine.finish(nil)
        check(machine.addingChannel(), false)
        check(machine.channelSubscribed(hasCatchUp: false), .release)
    }

    @Test func finishingDependsOnHowFarItGot() {
        var subscribing = self.subscribing(1)
        check(subscribing.finish(.shutdown), .refuse)
        check(subscribing.finish(.shutdown), .none)

        var slow = self.live()
        check(slow.finish(.slowConsumer), .cut)
        #expect(slow.state == .ended)

        var deleted = self.live()
        check(deleted.finish(.channelDeleted), .end(.channelDeleted))
        check(deleted.batchOffered(backlogIsEmpty: true, isWritable: true), .ignore)
        check(deleted.outputWritable(), .none)
        check(deleted.detach(), .none)

        var complete = self.subscribing(1, longPoll: true)
        _ = complete.channelSubscribed(hasCatchUp: false)
        _ = complete.begin(hasWaiting: false)
        check(complete.finish(nil), .end(nil))
    }

    @Test func detachingLeavesOnce() {
        var machine = self.subscribing(1)
        check(machine.detach(), .leave)
        check(machine.detach(), .none)
        check(machine.finish(.shutdown), .none)
    }

    @Test func ticksTimeOutAndHeartbeatOnlyOnceLive() {
        var subscribing = self.subscribing(1)
        check(subscribing.tick(sinceStart: 100, sinceWrite: 100, Self.timeouts, mayHeartbeat: true), .none)

        var machine = self.live()
        check(machine.tick(sinceStart: 9, sinceWrite: 9, Self.timeouts, mayHeartbeat: true), .none)
        check(machine.tick(sinceStart: 10, sinceWrite: 10, Self.timeouts, mayHeartbeat: true), .heartbeat)
        check(machine.tick(sinceStart: 10, sinceWrite: 10, Self.timeouts, mayHeartbeat: false), .none)
        check(machine.tick(sinceStart: 60, sinceWrite: 0, Self.timeouts, mayHeartbeat: true), .timeOut)

        let untimed = ConnectionTimeouts(readTicks: 5, keepAliveTicks: 30)
        check(machine.tick(sinceStart: 1 << 40, sinceWrite: 1 << 40, untimed, mayHeartbeat: true), .none)
        _ = machine.finish(nil)
        check(machine.tick(sinceStart: 100, sinceWrite: 100, Self.timeouts, mayHeartbeat: true), .none)
    }
}
