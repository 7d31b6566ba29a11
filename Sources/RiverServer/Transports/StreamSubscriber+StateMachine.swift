import RiverCore

extension StreamSubscriber {
    /// A subscription's lifecycle, whatever its transport and however many
    /// channels it carries: subscribing to every channel, writing what each
    /// must catch up on, going live, ending exactly once.
    ///
    /// Pure: one `mutating func` per event returns what to do; the
    /// `StreamSubscriber` performs it. An event that cannot happen in a state
    /// traps in debug builds (docs/ConnectionStateMachines.md has the table).
    struct StateMachine {
        enum State: Equatable {
            /// `pending` channels have not answered yet; nothing is written.
            /// `anyCatchUp`: a channel that did has notices or messages to replay.
            case subscribing(pending: Int, anyCatchUp: Bool)
            /// The catch-up (every channel's notices and replay) is being
            /// written as the socket drains; live messages wait behind it.
            case catchingUp
            /// A long-poll with nothing to catch up on: its first live message is its answer.
            case awaitingFirst
            case live
            case ended
        }

        enum SubscribedAction: Equatable {
            /// Join the hub and keep the catch-up until every channel answered.
            case join
            /// Join the hub: this was the last channel; `begin` now.
            case joinAndBegin
            /// A channel added to a running stream (`river.v2`): join the hub,
            /// then write its acknowledgement, notices and catch-up behind what waits.
            case joinAndWrite
            /// The subscription ended meanwhile: withdraw the engine interest.
            case release
        }

        enum FailedAction: Equatable {
            /// Answer the request with a refusal (503) instead of a stream.
            case refuse
            /// A channel added to a running stream: report it for that channel alone.
            case report
            case none
        }

        enum BeginAction: Equatable {
            /// Write the head, then every channel's notices and replay, then
            /// (`keepWaiting`) the live messages that arrived meanwhile.
            case writeCatchUp(keepWaiting: Bool)
            /// A long-poll with nothing to catch up on, whose first live message
            /// arrived while subscribing: write the head and that message, then end.
            case answerWithFirstWaiting
            /// Write the head and wait for the first live message.
            case awaitLive
        }

        enum DeliveryAction: Equatable {
            /// Write the messages now (nothing waits before them), then flush.
            case write
            /// Keep them behind what waits, charged against `max_subscriber_backlog`.
            case queue
            /// Write the first, then end: it answers the long-poll.
            case writeFirstAndEnd
            /// Not for this subscription now (a long-poll answering with its
            /// catch-up; the next poll fetches them), or it has ended.
            case ignore
        }

        enum WritableAction: Equatable {
            case writeBacklog
            case none
        }

        enum DrainedAction: Equatable {
            /// The catch-up is out: live messages are written as they come.
            case goLive
            /// The catch-up was the long-poll's answer: end.
            case end
            case none
        }

        enum FinishAction: Equatable {
            case none
            /// It was still subscribing: answer with a refusal (the server is shutting down).
            case refuse
            /// Cut at once (a slow consumer).
            case cut
            /// End the stream cleanly for this reason (nil: the response is complete).
            case end(FinishReason?)
        }

        enum DetachAction: Equatable {
            /// Leave the hub and the engine, write nothing more.
            case leave
            case none
        }

        enum TickAction: Equatable {
            case none
            /// `client_timeout` passed: end the stream cleanly.
            case timeOut
            /// Quiet for `heartbeat`: write the framing's heartbeat.
            case heartbeat
        }

        /// Long-poll (`keep=0`): the response ends after its first message, or after its catch-up.
        let endsAfterFirstBatch: Bool
        private(set) var state = State.subscribing(pending: 0, anyCatchUp: false)

        init(endsAfterFirstBatch: Bool) {
            self.endsAfterFirstBatch = endsAfterFirstBatch
        }

        // MARK: - Subscribing

        /// `count` channels are being subscribed to (all of them before the first answers).
        mutating func subscribing(channels count: Int) {
            guard case .subscribing(let pending, let any) = self.state else {
                return self.invalid("subscribing", ())
            }
            self.state = .subscribing(pending: pending + count, anyCatchUp: any)
        }

        /// A channel's subscription is in place; `hasCatchUp`: it has notices or messages to replay.
        mutating func channelSubscribed(hasCatchUp: Bool) -> SubscribedAction {
            switch self.state {
            case .subscribing(let pending, let any) where pending > 0:
                self.state = .subscribing(pending: pending - 1, anyCatchUp: any || hasCatchUp)
                return pending == 1 ? .joinAndBegin : .join
            case .ended:
                return .release
            case .catchingUp, .live:
                return .joinAndWrite
            case .subscribing, .awaitingFirst:
                return self.invalid("channelSubscribed", .release)
            }
        }

        /// A channel could not be subscribed to (the engine is unavailable).
        mutating func channelFailed() -> FailedAction {
            switch self.state {
            case .subscribing:
                self.state = .ended
                return .refuse
            case .ended:
                return .none
            case .catchingUp, .live:
                return .report
            case .awaitingFirst:
                return self.invalid("channelFailed", .none)
            }
        }

        /// A channel is added to a running stream (`river.v2`); false when the stream has ended.
        mutating func addingChannel() -> Bool {
            switch self.state {
            case .catchingUp, .live: return true
            case .ended: return false
            case .subscribing, .awaitingFirst: return self.invalid("addingChannel", false)
            }
        }

        /// Every channel answered: start writing; `hasWaiting`: live messages arrived meanwhile.
        mutating func begin(hasWaiting: Bool) -> BeginAction {
            guard case .subscribing(0, let anyCatchUp) = self.state else {
                return self.invalid("begin", .awaitLive)
            }
            if !self.endsAfterFirstBatch {
                self.state = .catchingUp
                return .writeCatchUp(keepWaiting: true)
            }
            if anyCatchUp {
                self.state = .catchingUp
                return .writeCatchUp(keepWaiting: false)
            }
            self.state = .awaitingFirst
            return hasWaiting ? .answerWithFirstWaiting : .awaitLive
        }

        // MARK: - Delivery

        /// The hub offers live messages; `backlogIsEmpty` and `isWritable` say
        /// whether they could be written at once.
        mutating func batchOffered(backlogIsEmpty: Bool, isWritable: Bool) -> DeliveryAction {
            switch self.state {
            case .subscribing: return .queue
            case .catchingUp: return self.endsAfterFirstBatch ? .ignore : .queue
            case .awaitingFirst: return .writeFirstAndEnd
            case .live: return backlogIsEmpty && isWritable ? .write : .queue
            case .ended: return .ignore
            }
        }

        /// The output drained below its low-water mark.
        mutating func outputWritable() -> WritableAction {
            switch self.state {
            case .catchingUp, .live: return .writeBacklog
            case .subscribing, .awaitingFirst, .ended: return .none
            }
        }

        /// Everything that waited has been written.
        mutating func backlogDrained() -> DrainedAction {
            guard case .catchingUp = self.state else { return .none }
            if self.endsAfterFirstBatch { return .end }
            self.state = .live
            return .goLive
        }

        // MARK: - Ending

        /// The server ends the subscription (`nil`: its response is complete).
        mutating func finish(_ reason: FinishReason?) -> FinishAction {
            switch self.state {
            case .ended:
                return .none
            case .subscribing:
                self.state = .ended
                return .refuse
            case .catchingUp, .awaitingFirst, .live:
                self.state = .ended
                return reason == .slowConsumer ? .cut : .end(reason)
            }
        }

        /// The connection closed under the subscription.
        mutating func detach() -> DetachAction {
            if case .ended = self.state { return .none }
            self.state = .ended
            return .leave
        }

        /// Once a second. `sinceStart` and `sinceWrite` are ticks; `mayHeartbeat`:
        /// the framing has a heartbeat and the output takes it.
        mutating func tick(
            sinceStart: UInt64,
            sinceWrite: UInt64,
            _ timeouts: ConnectionTimeouts,
            mayHeartbeat: Bool
        ) -> TickAction {
            switch self.state {
            case .live, .awaitingFirst: break
            case .subscribing, .catchingUp, .ended: return .none
            }
            if let timeout = timeouts.clientTicks, sinceStart >= timeout { return .timeOut }
            if let interval = timeouts.heartbeatTicks, sinceWrite >= interval, mayHeartbeat { return .heartbeat }
            return .none
        }

        private func invalid<Action>(_ event: String, _ fallback: Action) -> Action {
            impossibleTransition(in: "StreamSubscriber.StateMachine", event, state: self.state, fallback: fallback)
        }
    }
}
