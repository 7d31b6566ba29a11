import NIOCore
import RiverCore

/// `river.v2` and Part A sockets with `auth_url` (PROTOCOL.md C4, renewal): a subscription whose
/// decision expires is asked about again. Allowed, it goes on until the new
/// decision expires (one without `ttl` is not asked again); refused, the
/// client gets `["revoked", {"channel": C, "reason": R}]` and loses that
/// channel alone. When the application cannot answer, River asks again
/// after 1, 2, 4… s (at most 30 s apart) and revokes only once
/// `auth_renew_grace` has passed since the first failure.
extension WebSocketConnectionHandler {
    /// The longest wait between two renewals of an unreachable application.
    static let renewalBackoffLimit = TimeAmount.seconds(30)

    /// Schedules asking about `channel` again when `outcome`'s decision on it expires.
    func renew(_ channel: ChannelName, _ asker: AuthAsker, after outcome: AuthOutcome) {
        guard let ttl = outcome.decisions[channel]?.ttl, ttl > 0 else { return }
        self.scheduleRenewal(channel, asker, in: .seconds(ttl), failingSince: nil, backoff: .seconds(1))
    }

    private func scheduleRenewal(
        _ channel: ChannelName,
        _ asker: AuthAsker,
        in delay: TimeAmount,
        failingSince: NIODeadline?,
        backoff: TimeAmount
    ) {
        self.renewals.removeValue(forKey: channel)?.cancel()
        let handler = NIOLoopBound(self, eventLoop: self.loop.eventLoop)
        self.renewals[channel] = self.loop.eventLoop.scheduleTask(in: delay) {
            handler.value.askAgain(channel, asker, failingSince: failingSince, backoff: backoff)
        }
    }

    private func askAgain(_ channel: ChannelName, _ asker: AuthAsker, failingSince: NIODeadline?, backoff: TimeAmount) {
        self.renewals[channel] = nil
        guard let authorizer = self.server.authorizer, self.subscriber?.subscription(of: channel) != nil else { return }
        let question = asker.question(.subscribe, channels: [channel])
        authorizer.decide(question, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
            guard self.subscriber?.subscription(of: channel) != nil else { return }
            switch result {
            case .success(let outcome):
                if let refusal = outcome.refusal([channel]) {
                    return self.revoke(channel, reason: outcome.decisions[channel]?.reason ?? refusal.reason)
                }
                self.renew(channel, asker, after: outcome)
            case .failure(let error):
                let now = self.loop.eventLoop.now
                let since = failingSince ?? now
                guard now - since < self.server.configuration.authRenewGrace else {
                    return self.revoke(channel, reason: "\(error.reason); auth_renew_grace passed")
                }
                let next = TimeAmount.nanoseconds(min(backoff.nanoseconds * 2, Self.renewalBackoffLimit.nanoseconds))
                self.scheduleRenewal(channel, asker, in: backoff, failingSince: since, backoff: next)
            }
        }
    }

    /// Ends `channel` alone and tells the client why (`river.v2`); a Part A socket gets the
    /// notice (river format; raw has no notices), then close 1008 with the reason.
    private func revoke(_ channel: ChannelName, reason: String) {
        if case .channel = self.subscriptions {
            guard case .open = self.machine.state else { return }
            if !self.format.raw { self.reply(CommandReply.revoked(channel: channel, reason: reason)) }
            return self.perform(
                self.machine.fail(code: WebSocketClose.policyViolation, reason: reason, tick: self.loop.tick)
            )
        }
        guard let subscriber = self.subscriber, subscriber.remove(channel) else { return }
        self.reply(CommandReply.revoked(channel: channel, reason: reason))
    }
}
