extension HTTPConnectionHandler {
    /// An HTTP/1.1 connection's protocol state: whether the next request may
    /// be read and answered now, whether to read from the socket, when the
    /// peer has taken too long, and when the connection ends.
    ///
    /// Pure: one `mutating func` per event returns what to do; the handler
    /// does all I/O. Time is the loop's tick (seconds since start), passed in.
    struct StateMachine {
        enum State: Equatable {
            /// Waiting for a request since `since`: the first one since accept
            /// (`fresh`; `read_timeout` applies), or the next on a kept-alive
            /// connection (`keepalive_timeout` applies).
            case idle(since: UInt64, fresh: Bool)
            /// Part of a request has arrived; all of it is due `read_timeout` after `since`.
            case receiving(since: UInt64)
            /// A request is being answered elsewhere (the engine, a token check); later ones wait.
            case answering
            /// A subscription carries the response. A stream owns the connection
            /// to its end and ignores input; a long-poll hands it back, so input waits.
            case streaming(ignoresInput: Bool)
            /// The last response is written; the socket closes when the peer
            /// closes its side, or two ticks after `since`.
            case closing(since: UInt64)
            case closed
        }

        /// What a tick asks of the handler.
        enum TickAction: Equatable {
            case none
            /// A request did not arrive in time: answer 408 and close.
            case timeOutRequest
            /// Close without a word (an idle connection, or a closing one whose peer lingers).
            case close
            /// Let the subscription check its own clocks.
            case tickStream
        }

        /// What shutdown asks of the handler.
        enum QuiesceAction: Equatable {
            case none
            case close
            case finishStream
        }

        /// Whether to pass a read request on to the socket.
        enum ReadAction: Equatable {
            case read
            /// Hold it until `resumeReading()` says otherwise.
            case hold
        }

        private(set) var state: State
        /// Whether the connection's unsent output is under its high-water mark.
        private(set) var isWritable = true
        /// Shutting down: no response keeps the connection alive.
        private(set) var isQuiescing = false
        private var readHeld = false
        /// Input buffered beyond this while a request waits stops reading from the socket.
        static let maxBufferedInput = 64 * 1024

        init(acceptedAt tick: UInt64) {
            self.state = .idle(since: tick, fresh: true)
        }

        /// Nothing has arrived since accept (a Flash policy request is only recognised then).
        var isFresh: Bool {
            if case .idle(_, fresh: true) = self.state { return true }
            return false
        }

        /// Whether a buffered request may be read and answered now: nothing
        /// else is in progress, and output is not over its high-water mark.
        var mayAnswerNextRequest: Bool {
            switch self.state {
            case .idle, .receiving: return self.isWritable
            case .answering, .streaming, .closing, .closed: return false
            }
        }

        /// Whether input is dropped unread (a stream owns the connection, or it is closing).
        var discardsInput: Bool {
            switch self.state {
            case .streaming(let ignoresInput): return ignoresInput
            case .closing, .closed: return true
            case .idle, .receiving, .answering: return false
            }
        }

        // MARK: - Requests

        /// The parser has no complete request; `partial` when part of one is buffered.
        mutating func awaitingInput(partial: Bool, tick: UInt64) {
            switch self.state {
            case .idle(let since, let fresh) where partial:
                // The first request's clock started at accept.
                self.state = .receiving(since: fresh ? since : tick)
            case .receiving where !partial:
                self.state = .idle(since: tick, fresh: false)
            default:
                break
            }
        }

        /// A complete request was taken from the parser; it is being answered.
        mutating func requestReceived() {
            self.state = .answering
        }

        /// The request's answer is written. Returns true when the connection
        /// closes after it (`keepAlive` false, or shutting down).
        mutating func answered(keepAlive: Bool, tick: UInt64) -> Bool {
            guard case .answering = self.state else { return false }
            return self.next(keepAlive: keepAlive, tick: tick)
        }

        /// The request could not be parsed: it is answered, then the connection closes.
        mutating func requestFailed(tick: UInt64) {
            self.state = .closing(since: tick)
        }

        /// The answer is a subscription.
        mutating func streamStarted(ignoresInput: Bool) {
            guard case .answering = self.state else { return }
            self.state = .streaming(ignoresInput: ignoresInput)
        }

        /// The subscription ended cleanly (`reusable`: the response is complete
        /// and the request asked to keep the connection). Returns true when it closes.
        mutating func streamEnded(reusable: Bool, tick: UInt64) -> Bool {
            guard case .streaming = self.state else { return false }
            return self.next(keepAlive: reusable, tick: tick)
        }

        /// Closing instead of answering (a cut stream, a write that must be the last).
        mutating func closing(tick: UInt64) {
            switch self.state {
            case .closing, .closed: break
            default: self.state = .closing(since: tick)
            }
        }

        private mutating func next(keepAlive: Bool, tick: UInt64) -> Bool {
            if keepAlive && !self.isQuiescing {
                self.state = .idle(since: tick, fresh: false)
                return false
            }
            self.state = .closing(since: tick)
            return true
        }

        /// Whether the response now being written may keep the connection open.
        func keepsAlive(_ requested: Bool) -> Bool { requested && !self.isQuiescing }

        // MARK: - Reading and writing

        /// The socket asks to read. Reads pause while output is over its
        /// high-water mark, or while a request waits with `bufferedInput` bytes
        /// already buffered behind it.
        mutating func readRequested(bufferedInput: Int) -> ReadAction {
            let hold: Bool
            switch self.state {
            case .closing, .closed, .streaming(ignoresInput: true):
                hold = false
            case .idle, .receiving:
                hold = !self.isWritable
            case .answering, .streaming(ignoresInput: false):
                hold = !self.isWritable || bufferedInput >= Self.maxBufferedInput
            }
            self.readHeld = hold
            return hold ? .hold : .read
        }

        /// Whether a held read should be passed on now.
        mutating func resumeReading() -> Bool {
            guard self.readHeld, self.isWritable || self.discardsInput else { return false }
            self.readHeld = false
            return true
        }

        /// Output crossed its high- or low-water mark.
        mutating func writabilityChanged(isWritable: Bool) {
            self.isWritable = isWritable
        }

        // MARK: - Time and shutdown

        /// The loop's clock reached `tick`: has a request or an idle spell taken too long?
        mutating func tick(_ tick: UInt64, _ timeouts: ConnectionTimeouts) -> TickAction {
            switch self.state {
            case .idle(let since, let fresh):
                let limit = fresh ? timeouts.readTicks : timeouts.keepAliveTicks
                return tick &- since >= limit ? .close : .none
            case .receiving(let since):
                guard tick &- since >= timeouts.readTicks else { return .none }
                self.state = .closing(since: tick)
                return .timeOutRequest
            case .streaming:
                return .tickStream
            case .closing(let since):
                return tick &- since >= 2 ? .close : .none
            case .answering, .closed:
                return .none
            }
        }

        mutating func quiesce() -> QuiesceAction {
            self.isQuiescing = true
            switch self.state {
            case .idle: return .close
            case .streaming: return .finishStream
            case .receiving, .answering, .closing, .closed: return .none
            }
        }

        /// The socket closed. Returns false when it already was.
        mutating func closed() -> Bool {
            guard self.state != .closed else { return false }
            self.state = .closed
            return true
        }
    }
}
