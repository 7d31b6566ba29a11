extension HTTPConnectionHandler.StateMachine {
    // The actions the machine's events return; the handler performs each (docs/ConnectionStateMachines.md).

    /// What to do with bytes that arrived.
    enum InputAction: Equatable {
        /// Drop them unread (a stream owns the connection, or it is closing).
        case discard
        /// The connection's first bytes are a Flash `<policy-file-request/>`: answer it, then close.
        case answerPolicyFile
        /// Append them to the parser and process the requests they complete.
        case parse
    }

    /// Whether to take the next request from the parser.
    enum ProcessAction: Equatable {
        case parseNext
        /// Not now: a request is being answered, or output is over its mark.
        case stop
        /// Requests are being taken further up the stack, which will go on
        /// (and flush) when this returns.
        case alreadyProcessing
    }

    /// What to do with a parsed request.
    enum RequestAction: Equatable {
        /// Let the dispatcher decide, and perform its decision.
        case dispatch
    }

    /// The parser needs more bytes.
    enum NeedInputAction: Equatable {
        case none
        /// A read was held while the request was answered: pass it on now.
        case resumeReading
    }

    /// The parser refused the bytes, or a request did not arrive in time.
    enum RefuseAction: Equatable {
        /// Write the refusal, flush, then close.
        case refuseAndClose
    }

    /// A request's `Expect: 100-continue` wants an interim answer.
    enum ContinueAction: Equatable {
        case writeContinue
    }

    /// An answer computed elsewhere (the engine, a token check) came back.
    enum ResumeAction: Equatable {
        case proceed
        /// The connection closed meanwhile: drop it.
        case drop
    }

    /// How to write a complete response.
    enum AnswerAction: Equatable {
        /// Write it saying the connection stays open (`keepAlive`) or
        /// closes; when it closes, close once it is written.
        case write(keepAlive: Bool)
        /// The connection closed meanwhile: drop it.
        case drop
    }

    /// How to start a subscription's response.
    enum StreamStartAction: Equatable {
        /// Write the head saying whether the connection stays open; a
        /// stream that ignores input drops the parser and what it holds.
        case start(keepAlive: Bool, dropParser: Bool)
    }

    /// How a subscription ended, as the connection must carry it on.
    enum StreamEnding: Equatable {
        /// Its last chunk or close is written; `reusable`: the response is complete.
        case completed(reusable: Bool)
        /// Cut (a slow consumer): no more writes.
        case cut
        /// Refused before anything was written: answer with the refusal instead.
        case refused
    }

    enum StreamEndAction: Equatable {
        /// The connection carries the next request: process what waits, flush.
        case continueWithNextRequest
        /// Flush, then close.
        case closeAfterWrites
        /// Close now, writing nothing more.
        case closeNow
        /// Write the refusal (not kept alive), flush, then close.
        case refuseAndClose
        /// The connection closed meanwhile.
        case none
    }

    enum UpgradeAction: Equatable {
        /// Write the 101 answer and hand the connection (its slot, its
        /// unread bytes) to the WebSocket handlers.
        case handOver
    }

    /// Output drained below its low-water mark.
    enum WritabilityAction: Equatable {
        case none
        /// Let the subscription write what waits.
        case resumeStream
        /// Answer the requests that waited, and flush.
        case resumeRequests
    }

    /// Whether to pass a read request on to the socket.
    enum ReadAction: Equatable {
        case read
        /// Hold it until a `resumeReading` action says otherwise.
        case hold
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

    enum CloseAction: Equatable {
        /// Let go of everything the connection made.
        case cleanUp
        /// It was cleaned up already.
        case none
    }
}
