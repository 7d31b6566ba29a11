import NIOCore
import NIOWebSocket
import RiverCore

extension WebSocketConnectionHandler {
    /// A WebSocket connection's protocol state after the handshake: what each
    /// whole message or control frame from the client asks for, which close
    /// status fails the connection for what, and when the socket closes.
    ///
    /// Pure: one `mutating func` per event returns what to do; the handler
    /// does all I/O (inflating included). Time is the loop's tick, passed in.
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
        struct Frame {
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

        private(set) var state = State.open
        let maxMessageSize: Int
        /// Whether the handshake's credentials allow publishing.
        let mayPublish: Bool

        init(maxMessageSize: Int, mayPublish: Bool) {
            self.maxMessageSize = maxMessageSize
            self.mayPublish = mayPublish
        }

        /// A message or control frame from the client.
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

        /// A whole message: published if it may be, is small enough and, as text, is UTF-8.
        private mutating func message(_ payload: ByteBuffer, binary: Bool, tick: UInt64) -> Action {
            guard self.mayPublish else {
                return self.fail(
                    code: WebSocketClose.policyViolation,
                    reason: "publishing needs the publish secret or a token",
                    tick: tick
                )
            }
            guard payload.readableBytes <= self.maxMessageSize else {
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
            return .publish(payload, binary: binary)
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
        mutating func streamEnded(tick: UInt64) {
            if case .open = self.state { self.state = .closing(since: tick) }
        }

        mutating func tick(_ tick: UInt64) -> TickAction {
            switch self.state {
            case .open: return .tickStream
            case .closing(let since): return tick &- since >= 2 ? .closeSocket : .none
            case .closed: return .none
            }
        }

        /// The connection closed; true the first time only.
        mutating func connectionClosed() -> Bool {
            if case .closed = self.state { return false }
            self.state = .closed
            return true
        }
    }
}
