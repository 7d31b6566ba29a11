import NIOCore
import RiverCore

/// A Part A socket with `auth_url` (PROTOCOL.md C4): the application is asked about each
/// message before it is published — a cached answer at once — and the messages go out in
/// the order sent, with the data the application may put in their place. While one is
/// asked, the socket reads no more. Refused, the connection closes 1008 with the
/// application's reason; the application unreachable or unreadable, 1011 with River's.
extension WebSocketConnectionHandler {
    /// The most messages one read may leave waiting for the application (reads stop while one
    /// is asked, so only the frames of the read in progress pile up).
    static let maxMessagesAwaitingConsent = 4096

    func publishOnceAllowed(_ payload: ByteBuffer, binary: Bool, _ consent: ApplicationConsent) {
        guard self.awaitingConsent.count < Self.maxMessagesAwaitingConsent else {
            self.awaitingConsent.removeAll()
            let reason = "more than \(Self.maxMessagesAwaitingConsent) messages waiting for the application"
            self.perform(self.machine.fail(code: WebSocketClose.policyViolation, reason: reason, tick: self.loop.tick))
            self.perform(self.machine.applicationAnswered())  // (to read the peer's close frame)
            return
        }
        self.awaitingConsent.append((payload, binary))
        guard self.awaitingConsent.count == 1 else { return }  // (asking already; it comes in turn)
        self.machine.askingApplication()
        self.askAboutNextMessage(consent)
    }

    /// Asks about the waiting messages one by one, then lets reading go on.
    private func askAboutNextMessage(_ consent: ApplicationConsent) {
        guard let authorizer = self.server.authorizer, case .channel(let channel, _, _) = self.subscriptions else {
            return
        }
        while let next = self.awaitingConsent.first {
            let question = consent.asker.question(
                .publish,
                channels: [channel],
                data: next.payload,
                isBinary: next.binary
            )
            guard let cached = authorizer.cachedOutcome(question) else {
                authorizer.decide(question, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
                    guard self.settleFirstMessage(result, channel) else { return }
                    self.askAboutNextMessage(consent)
                }
                return
            }
            guard self.settleFirstMessage(.success(cached), channel) else { return }
        }
        self.perform(self.machine.applicationAnswered())
    }

    /// Publishes or refuses the first waiting message; false once the connection is closing
    /// (what still waits is dropped, and reading goes on, for the peer's close frame).
    private func settleFirstMessage(_ result: Result<AuthOutcome, RequestError>, _ channel: ChannelName) -> Bool {
        guard !self.awaitingConsent.isEmpty else { return false }
        let message = self.awaitingConsent.removeFirst()
        guard case .open = self.machine.state else {
            self.awaitingConsent.removeAll()
            self.perform(self.machine.applicationAnswered())
            return false
        }
        let code: UInt16
        let reason: String
        switch result {
        case .success(let outcome):
            guard let refusal = outcome.refusal([channel]) else {
                let replacement = outcome.replacement
                self.publish(replacement?.data ?? message.payload, binary: replacement?.isBinary ?? message.binary)
                return true
            }
            (code, reason) = (WebSocketClose.policyViolation, refusal.reason)
        case .failure(let error):
            let refused = error.status == .forbidden || error.status == .unauthorized
            (code, reason) = (
                refused ? WebSocketClose.policyViolation : WebSocketClose.unexpectedServerError, error.reason
            )
        }
        self.awaitingConsent.removeAll()
        self.perform(self.machine.fail(code: code, reason: reason, tick: self.loop.tick))
        self.perform(self.machine.applicationAnswered())  // (to read the peer's close frame)
        return false
    }
}
