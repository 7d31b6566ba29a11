import NIOCore
import RiverCore

/// What an HTTP subscription asks the application again, and when: the
/// earliest expiry among its channels' decisions (none with a `ttl`: never).
struct StreamRenewal {
    let asker: AuthAsker
    let channels: [ChannelName]
    let delay: TimeAmount

    init?(_ asker: AuthAsker, channels: [ChannelName], _ outcome: AuthOutcome) {
        let ttls = channels.compactMap { outcome.decisions[$0]?.ttl }.filter { $0 > 0 }
        guard let ttl = ttls.min() else { return nil }
        self.asker = asker
        self.channels = channels
        self.delay = .seconds(ttl)
    }
}

/// HTTP streams with `auth_url` (PROTOCOL.md C4, renewal): when the earliest
/// decision expires, the application is asked about every channel of the
/// stream again. All allowed, the stream goes on until the next expiry;
/// one refused, the stream gets `revoked` for it (SSE: `event: revoked`)
/// and ends. When the application cannot answer, River asks again after
/// 1, 2, 4… s (at most 30 s apart) and revokes once `auth_renew_grace` has
/// passed since the first failure.
extension HTTPConnectionHandler {
    func renew(_ renewal: StreamRenewal, _ subscriber: StreamSubscriber) {
        self.scheduleRenewal(renewal, subscriber, in: renewal.delay, failingSince: nil, backoff: .seconds(1))
    }

    private func scheduleRenewal(
        _ renewal: StreamRenewal,
        _ subscriber: StreamSubscriber,
        in delay: TimeAmount,
        failingSince: NIODeadline?,
        backoff: TimeAmount
    ) {
        self.renewal?.cancel()
        let handler = NIOLoopBound(self, eventLoop: self.loop.eventLoop)
        let stream = NIOLoopBound(subscriber, eventLoop: self.loop.eventLoop)
        self.renewal = self.loop.eventLoop.scheduleTask(in: delay) {
            handler.value.askAgain(renewal, stream.value, failingSince: failingSince, backoff: backoff)
        }
    }

    private func askAgain(
        _ renewal: StreamRenewal,
        _ subscriber: StreamSubscriber,
        failingSince: NIODeadline?,
        backoff: TimeAmount
    ) {
        self.renewal = nil
        guard let authorizer = self.server.authorizer, self.subscriber === subscriber else { return }
        let question = renewal.asker.question(.subscribe, channels: renewal.channels)
        authorizer.decide(question, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
            guard self.subscriber === subscriber else { return }
            switch result {
            case .success(let outcome):
                if let refused = outcome.firstRefused(renewal.channels) {
                    return subscriber.revoke(refused.0, reason: refused.1.reason ?? "refused by the application")
                }
                if let next = StreamRenewal(renewal.asker, channels: renewal.channels, outcome) {
                    self.renew(next, subscriber)
                }
            case .failure(let error):
                let now = self.loop.eventLoop.now
                let since = failingSince ?? now
                guard now - since < self.server.configuration.authRenewGrace else {
                    let channel = renewal.channels[0]
                    return subscriber.revoke(channel, reason: "\(error.reason); auth_renew_grace passed")
                }
                let next = TimeAmount.nanoseconds(
                    min(backoff.nanoseconds * 2, WebSocketConnectionHandler.renewalBackoffLimit.nanoseconds)
                )
                self.scheduleRenewal(renewal, subscriber, in: backoff, failingSince: since, backoff: next)
            }
        }
    }
}
