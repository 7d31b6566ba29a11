import NIOCore
import NIOWebSocket
import RiverCore

extension WebSocketConnectionHandler {
    /// A WebSocket connection's protocol state after the handshake: what each
    /// whole message or control frame from the client asks for, which close
    /// status fails the connection for what, when to read from the socket,
    /// and when the socket closes.
    ///
    /// Until the connection's subscription is in place it holds reads and
    /// keeps the frames already read; once the subscription settles it hands
    /// them back, in order, to be handled on the next turn of the loop.
    ///
    /// Pure: one `mutating func` per event returns what to do; the handler
    /// does all I/O (inflating included). Time is the loop's tick, passed in.
    /// An event that cannot happen in a state traps in debug builds.
    struct StateMachine {
        enum State: Equatable {
            case open
            /// A close frame was sent at tick `since`; the socket closes when
            /// the peer's close arrives, or two ticks later.
            case closing(since: UInt64)
            case closed
        }

        /// What arrives from the fragment aggregator: a whole data message
        /// (unmasked) or a control frame.
        struct Frame: Equatable {
            var opcode: WebSocketOpcode
            var payload: ByteBuffer
            /// RSV1 on the message's first frame: permessage-deflate compressed it.
            var compressed = false
        }

        enum Action: Equatable {
            case none
            /// Inflate the payload (at most `max_message_size`), then report with `inflated(_:binary:tick:)`.
            case inflate(ByteBuffer, binary: Bool)
            /// Publish the message to the connection's channel.
            case publish(ByteBuffer, binary: Bool)
            /// Carry out the message as a `river.v2` command (a binary one is answered 400).
            case command(ByteBuffer, binary: Bool)
            case pong(ByteBuffer)
            /// Stop the subscription, send a close frame with this status, and wait for the peer's.
            case close(code: UInt16, reason: String)
            /// Answer the peer's close frame with this status, then close the socket once it is out.
            case answerClose(code: UInt16)
            case closeSocket
        }

        enum TickAction: Equatable {
            case none
            /// Let the subscription check its own clocks.
            case tickStream
            case closeSocket
        }

        /// The subscription is in place, or over.
        enum SettledAction: Equatable {
            case none
            /// On the next turn of the loop, handle these frames (read while
            /// subscribing) in order, then `replayed()`.
            case replayNextTurn([Frame])
            /// Pass the held read on to the socket.
            case resumeReading
        }

        enum ReadAction: Equatable {
            case read
            /// Hold it until a `resumeReading` action.
            case hold
        }

        enum WritabilityAction: Equatable {
            case none
            /// Let the subscription write what waits, then see whether a held read may go on.
            case resumeOutput
        }

        enum QuiesceAction: Equatable {
            case none
            /// End the subscription's stream cleanly (its close frame says 1001).
            case finishStream
        }

        enum CloseAction: Equatable {
            /// Let go of everything the connection made, and its slot.
            case cleanUp
            case none
        }

        /// Frames read before the subscription was in place.
        private enum HeldFrames: Equatable {
            /// Subscribing: frames wait here, and reads are held.
            case holding([Frame])
            /// Handed back for handling on the next turn; reads stay held until then.
            case replaying
            /// The subscription settled and every held frame was handled.
            case none
        }

        private(set) var state = State.open
        let maxMessageSize: Int
        /// What a whole message from the client is.
        enum Messages: Equatable {
            /// A publish to the connection's channel, if the handshake's credentials allow it.
            case publish(allowed: Bool)
            /// A `river.v2` command, judged by the handler.
            case commands
        }

        let messages: Messages
        private var held = HeldFrames.holding([])
        /// Whether output is under its high-water mark.
        private(set) var isWritable = true
        private var readHeld = false
        /// Messages wait for the application's answer (`auth_url`): reads are held meanwhile.
        private(set) var isAwaitingApplication = false

        init(maxMessageSize: Int, messages: Messages) {
            self.maxMessageSize = maxMessageSize
            self.messages = messages
        }

        // MARK: - Frames

        /// A message or control frame arrived from the client: kept while
        /// subscribing, otherwise judged.
        mutating func frameArrived(_ frame: Frame, tick: UInt64) -> Action {
            if case .holding(var frames) = self.held {
                frames.append(frame)
                self.held = .holding(frames)
                return .none
            }
            return self.received(frame, tick: tick)
        }

        /// A message or control frame from the client, judged now.
        mutating func received(_ frame: Frame, tick: UInt64) -> Action {
            switch self.state {
            case .open: break
            case .closing: return frame.opcode == .connectionClose ? .closeSocket : .none
            case .closed: return .none
            }
            switch frame.opcode {
            case .text, .binary:
                let binary = frame.opcode == .binary
                if frame.compressed { return .inflate(frame.payload, binary: binary) }
                return self.message(frame.payload, binary: binary, tick: tick)
            case .ping:
                return .pong(frame.payload)
            case .pong:
                return .none
            case .connectionClose:
                self.state = .closing(since: tick)
                return .answerClose(code: WebSocketClose.reply(toPayload: frame.payload))
            default:
                return self.fail(code: WebSocketClose.protocolError, reason: "unexpected opcode", tick: tick)
            }
        }

        /// The outcome of an `inflate` action.
        mutating func inflated(
            _ result: Result<ByteBuffer, PerMessageInflater.Failure>,
            binary: Bool,
            tick: UInt64
        ) -> Action {
            switch result {
            case .success(let message):
                return self.message(message, binary: binary, tick: tick)
            case .failure(.tooLarge):
                return self.fail(
                    code: WebSocketClose.messageTooLarge,
                    reason: "message inflates past \(self.maxMessageSize) bytes",
                    tick: tick
                )
            case .failure(.corrupt):
                return self.fail(code: WebSocketClose.protocolError, reason: "invalid deflate data", tick: tick)
            }
        }

        /// A whole message: a command, or published if it may be, is small
        /// enough and, as text, is UTF-8. (A command's frame may be larger than
        /// `max_message_size`: the data it carries is what must fit.)
        private mutating func message(_ payload: ByteBuffer, binary: Bool, tick: UInt64) -> Action {
            if case .publish(allowed: false) = self.messages {
                return self.fail(
                    code: WebSocketClose.policyViolation,
                    reason: "publishing needs the publish secret or a token",
                    tick: tick
                )
            }
            guard payload.readableBytes <= self.maxMessageSize || self.messages == .commands else {
                return self.fail(
                    code: WebSocketClose.messageTooLarge,
                    reason: "message larger than \(self.maxMessageSize) bytes",
                    tick: tick
                )
            }
            guard binary || payload.withUnsafeReadableBytes({ UTF8Validation.isValid($0) }) else {
                return self.fail(
                    code: WebSocketClose.invalidPayload,
                    reason: "text message is not valid UTF-8",
                    tick: tick
                )
            }
            return self.messages == .commands ? .command(payload, binary: binary) : .publish(payload, binary: binary)
        }

        /// The frame decoder, checker or aggregator reported `error`.
        mutating func errorCaught(_ error: Error, tick: UInt64) -> Action {
            let (code, reason) = WebSocketClose.status(for: error, maxMessageSize: self.maxMessageSize)
            return self.fail(code: code, reason: reason, tick: tick)
        }

        /// Fails (or, for shutdown, ends) the connection with `code`; only the first reason counts.
        mutating func fail(code: UInt16, reason: String, tick: UInt64) -> Action {
            guard case .open = self.state else { return .none }
            self.state = .closing(since: tick)
            return .close(code: code, reason: reason)
        }

        /// The subscription ended its stream and wrote its close frame, or was cut.
        mutating func streamEnded(tick: UInt64) -> Action {
            if case .open = self.state { self.state = .closing(since: tick) }
            return .none
        }

        // MARK: - The subscription settling, reading, writing

        /// The subscription is in place, or it ended (before or after it was).
        mutating func subscriptionSettled() -> SettledAction {
            guard case .holding(let frames) = self.held else { return .none }
            if frames.isEmpty {
                self.held = .none
                return self.resumeReading() == .read ? .resumeReading : .none
            }
            self.held = .replaying
            return .replayNextTurn(frames)
        }

        /// The frames of `replayNextTurn` were handled.
        mutating func replayed() -> SettledAction {
            guard case .replaying = self.held else { return self.invalid("replayed", .none) }
            self.held = .none
            return self.resumeReading() == .read ? .resumeReading : .none
        }

        /// The socket asks to read: only while output is under its high-water
        /// mark (a peer that pings and never reads cannot pile up pongs), and
        /// only once the held frames were handled.
        mutating func readRequested() -> ReadAction {
            self.readHeld = !self.mayRead
            return self.readHeld ? .hold : .read
        }

        private var mayRead: Bool { self.isWritable && self.held == .none && !self.isAwaitingApplication }

        /// Messages are to be published once the application allows them: reads wait.
        mutating func askingApplication() {
            self.isAwaitingApplication = true
        }

        /// No message waits for the application any more: a held read may go on.
        mutating func applicationAnswered() -> ReadAction {
            guard self.isAwaitingApplication else { return self.invalid("applicationAnswered", .hold) }
            self.isAwaitingApplication = false
            return self.resumeReading()
        }

        /// Whether a held read may go on now.
        mutating func resumeReading() -> ReadAction {
            guard self.readHeld, self.mayRead else { return .hold }
            self.readHeld = false
            return .read
        }

        mutating func writabilityChanged(isWritable: Bool) -> WritabilityAction {
            self.isWritable = isWritable
            return isWritable ? .resumeOutput : .none
        }

        // MARK: - Time, shutdown, close

        mutating func tick(_ tick: UInt64) -> TickAction {
            switch self.state {
            case .open: return .tickStream
            case .closing(let since): return tick &- since >= 2 ? .closeSocket : .none
            case .closed: return .none
            }
        }

        /// The server shuts down: an open connection's stream ends cleanly.
        mutating func quiesce() -> QuiesceAction {
            if case .open = self.state { return .finishStream }
            return .none
        }

        /// The connection closed; cleans up the first time only.
        mutating func connectionClosed() -> CloseAction {
            if case .closed = self.state { return .none }
            self.state = .closed
            self.held = .none
            return .cleanUp
        }

        private func invalid<Value>(_ event: String, _ fallback: Value) -> Value {
            impossibleTransition(
                in: "WebSocketConnectionHandler.StateMachine",
                event,
                state: (self.state, held: self.held),
                fallback: fallback
            )
        }
    }
}
