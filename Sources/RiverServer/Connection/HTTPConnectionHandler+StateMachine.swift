extension HTTPConnectionHandler {
    /// An HTTP/1.1 connection's protocol state: whether the next request may
    /// be read and answered now, whether to read from the socket, whether a
    /// response keeps the connection, when the peer has taken too long, and
    /// when the connection ends.
    ///
    /// Pure, like swift-nio's `NIOTypedHTTPServerUpgraderStateMachine`: one
    /// `mutating func` per event returns what to do; the handler does all I/O
    /// and decides nothing itself. Time is the loop's tick (seconds), passed
    /// in. An event that cannot happen in the current state is a bug: it traps
    /// in debug builds, naming both (docs/ConnectionStateMachines.md has the
    /// whole table).
    struct StateMachine {
        enum State: Equatable {
            /// Waiting for a request since `since`: the first one since accept
            /// (`fresh`; `read_timeout` applies), or the next on a kept-alive
            /// connection (`keepalive_timeout` applies).
            case idle(since: UInt64, fresh: Bool)
            /// Part of a request has arrived; all of it is due `read_timeout` after `since`.
            case receiving(since: UInt64)
            /// A request is being answered (`keepAlive`: it asked to keep the
            /// connection); later ones wait in the parser.
            case answering(keepAlive: Bool)
            /// A subscription carries the response. A stream owns the connection
            /// to its end and ignores input; a long-poll hands it back, so input
            /// waits. `keepAlive`: the response is chunked and the request asked
            /// to keep the connection.
            case streaming(ignoresInput: Bool, keepAlive: Bool)
            /// The connection speaks WebSocket now; another handler owns it.
            case upgraded
            /// The last response is written; the socket closes when the peer
            /// closes its side, or two ticks after `since`.
            case closing(since: UInt64)
            case closed
        }

        private(set) var state: State
        /// Whether the connection's unsent output is under its high-water mark.
        private(set) var isWritable = true
        /// Shutting down: no response keeps the connection alive.
        private var isQuiescing = false
        private var readHeld = false
        /// Whether requests are being taken from the parser further up the stack (re-entrancy).
        private var isProcessing = false
        /// Whether any bytes arrived yet (a Flash policy request is only recognised first).
        private var receivedInput = false
        /// Input buffered beyond this while a request waits stops reading from the socket.
        static let maxBufferedInput = 64 * 1024

        init(acceptedAt tick: UInt64) {
            self.state = .idle(since: tick, fresh: true)
        }

        // MARK: - Input and requests

        /// Bytes arrived; `isPolicyFileRequest` is only asked of a connection's first bytes.
        mutating func inputReceived(tick: UInt64, isPolicyFileRequest: @autoclosure () -> Bool) -> InputAction {
            let first = !self.receivedInput
            self.receivedInput = true
            switch self.state {
            case .streaming(let ignoresInput, _) where ignoresInput:
                return .discard
            case .closing, .closed, .upgraded:
                return .discard
            case .idle where first && isPolicyFileRequest():
                self.state = .closing(since: tick)
                return .answerPolicyFile
            case .idle, .receiving, .answering, .streaming:
                return .parse
            }
        }

        /// Something asks to process buffered requests (bytes arrived, an answer was written).
        mutating func processingWanted() -> ProcessAction {
            guard !self.isProcessing else { return .alreadyProcessing }
            guard self.mayAnswerNextRequest else { return .stop }
            self.isProcessing = true
            return .parseNext
        }

        /// The previous request was handled: take the next, or stop.
        mutating func requestHandled() -> ProcessAction {
            guard self.isProcessing else { return self.invalid("requestHandled", .stop) }
            if self.mayAnswerNextRequest { return .parseNext }
            self.isProcessing = false
            return .stop
        }

        private var mayAnswerNextRequest: Bool {
            switch self.state {
            case .idle, .receiving: return self.isWritable
            case .answering, .streaming, .upgraded, .closing, .closed: return false
            }
        }

        /// The parser has no complete request; `partial` when part of one is buffered.
        mutating func needMoreInput(partial: Bool, tick: UInt64) -> NeedInputAction {
            self.isProcessing = false
            switch self.state {
            case .idle(let since, let fresh) where partial:
                // The first request's clock started at accept.
                self.state = .receiving(since: fresh ? since : tick)
            case .receiving where !partial:
                self.state = .idle(since: tick, fresh: false)
            case .idle, .receiving:
                break
            case .answering, .streaming, .upgraded, .closing, .closed:
                return self.invalid("needMoreInput", .none)
            }
            return self.resumeReading()
        }

        /// A whole request was taken from the parser.
        mutating func requestReceived(keepAlive: Bool) -> RequestAction {
            switch self.state {
            case .idle, .receiving:
                self.state = .answering(keepAlive: keepAlive)
            case .answering, .streaming, .upgraded, .closing, .closed:
                self.invalid("requestReceived", ())
            }
            return .dispatch
        }

        /// The request wants `100 Continue` before its body.
        mutating func continueRequired() -> ContinueAction {
            .writeContinue
        }

        /// The bytes are not a request River can read.
        mutating func requestUnreadable(tick: UInt64) -> RefuseAction {
            self.isProcessing = false
            self.state = .closing(since: tick)
            return .refuseAndClose
        }

        /// An answer computed off this call stack (a token check) is back.
        mutating func deferredAnswerReady() -> ResumeAction {
            if case .answering = self.state { return .proceed }
            return .drop
        }

        /// The answer to the current request is complete; `closesConnection`
        /// when it must be the connection's last (the request was unreadable).
        mutating func answerReady(closesConnection: Bool, tick: UInt64) -> AnswerAction {
            guard case .answering(let requested) = self.state else { return .drop }
            let keepAlive = requested && !closesConnection && !self.isQuiescing
            self.state = keepAlive ? .idle(since: tick, fresh: false) : .closing(since: tick)
            return .write(keepAlive: keepAlive)
        }

        // MARK: - Subscriptions and upgrades

        /// The answer is a subscription; `chunked`: its response is chunked
        /// (not HTTP/1.0), so a complete one may leave the connection open.
        mutating func streamStarting(ignoresInput: Bool, chunked: Bool) -> StreamStartAction {
            guard case .answering(let requested) = self.state else {
                return self.invalid("streamStarting", .start(keepAlive: false, dropParser: ignoresInput))
            }
            let keepAlive = chunked && requested
            self.state = .streaming(ignoresInput: ignoresInput, keepAlive: keepAlive)
            return .start(keepAlive: keepAlive && !self.isQuiescing, dropParser: ignoresInput)
        }

        /// The subscription ended.
        mutating func streamEnded(_ ending: StreamEnding, tick: UInt64) -> StreamEndAction {
            guard case .streaming(_, let keepAlive) = self.state else {
                if case .closed = self.state { return .none }
                return self.invalid("streamEnded", .none)
            }
            switch ending {
            case .completed(let reusable):
                if reusable && keepAlive && !self.isQuiescing {
                    self.state = .idle(since: tick, fresh: false)
                    return .continueWithNextRequest
                }
                self.state = .closing(since: tick)
                return .closeAfterWrites
            case .cut:
                self.state = .closing(since: tick)
                return .closeNow
            case .refused:
                self.state = .closing(since: tick)
                return .refuseAndClose
            }
        }

        /// The answer is a WebSocket handshake.
        mutating func upgrading() -> UpgradeAction {
            guard case .answering = self.state else { return self.invalid("upgrading", .handOver) }
            self.state = .upgraded
            return .handOver
        }

        // MARK: - Reading and writing

        /// The socket asks to read. Reads pause while output is over its
        /// high-water mark, or while a request waits with `bufferedInput` bytes
        /// already buffered behind it.
        mutating func readRequested(bufferedInput: Int) -> ReadAction {
            let hold: Bool
            switch self.state {
            case .closing, .closed, .upgraded, .streaming(ignoresInput: true, _):
                hold = false
            case .idle, .receiving:
                hold = !self.isWritable
            case .answering, .streaming(ignoresInput: false, _):
                hold = !self.isWritable || bufferedInput >= Self.maxBufferedInput
            }
            self.readHeld = hold
            return hold ? .hold : .read
        }

        /// A held read is passed on once output is under its mark (or input is dropped anyway).
        mutating func resumeReading() -> NeedInputAction {
            let discardsInput: Bool
            switch self.state {
            case .streaming(let ignoresInput, _): discardsInput = ignoresInput
            case .closing, .closed, .upgraded: discardsInput = true
            case .idle, .receiving, .answering: discardsInput = false
            }
            guard self.readHeld, self.isWritable || discardsInput else { return .none }
            self.readHeld = false
            return .resumeReading
        }

        /// Output crossed its high- or low-water mark.
        mutating func writabilityChanged(isWritable: Bool) -> WritabilityAction {
            self.isWritable = isWritable
            guard isWritable else { return .none }
            switch self.state {
            case .streaming: return .resumeStream
            case .idle, .receiving, .answering: return .resumeRequests
            case .upgraded, .closing, .closed: return .none
            }
        }

        // MARK: - Time, shutdown, close

        /// The loop's clock reached `tick`: has a request or an idle spell taken too long?
        mutating func tick(_ tick: UInt64, _ timeouts: ConnectionTimeouts) -> TickAction {
            switch self.state {
            case .idle(let since, let fresh):
                let limit = fresh ? timeouts.readTicks : timeouts.keepAliveTicks
                return tick &- since > limit ? .close : .none
            case .receiving(let since):
                guard tick &- since > timeouts.readTicks else { return .none }
                self.state = .closing(since: tick)
                return .timeOutRequest
            case .streaming:
                return .tickStream
            case .closing(let since):
                return tick &- since >= 2 ? .close : .none
            case .answering, .upgraded, .closed:
                return .none
            }
        }

        /// The server shuts down: idle connections close, streams end, answers finish first.
        mutating func quiesce() -> QuiesceAction {
            self.isQuiescing = true
            switch self.state {
            case .idle: return .close
            case .streaming: return .finishStream
            case .receiving, .answering, .upgraded, .closing, .closed: return .none
            }
        }

        /// The socket closed, or the handler left the pipeline.
        mutating func closed() -> CloseAction {
            guard self.state != .closed else { return .none }
            self.state = .closed
            return .cleanUp
        }

        /// An event that cannot happen in this state: a bug, trapped in debug builds.
        private func invalid<Action>(_ event: String, _ fallback: Action) -> Action {
            impossibleTransition(in: "HTTPConnectionHandler.StateMachine", event, state: self.state, fallback: fallback)
        }
    }
}
