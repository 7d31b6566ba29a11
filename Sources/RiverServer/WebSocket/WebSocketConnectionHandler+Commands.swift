import NIOCore
import RiverCore

/// `river.v2` (PROTOCOL.md C2): each text frame is a command, answered with
/// `ok` or `error` carrying the client's id; a bad command leaves the
/// connection open. Access is decided per channel exactly as for HTTP — the
/// handshake's credentials, or a `token` the command carries — and a channel
/// joins and leaves the connection's one `StreamSubscriber`.
extension WebSocketConnectionHandler {
    /// Carries out one command frame.
    func carryOut(_ payload: ByteBuffer, binary: Bool) {
        guard case .commands(let session) = self.subscriptions else { return }
        // Every frame counts against the rate; one over it is still read, for its id.
        let admitted = self.rateLimit?.admit(now: self.loop.eventLoop.now) ?? true
        guard !binary else {
            return self.reply(CommandReply.error(id: nil, status: 400, reason: "commands are text frames of JSON"))
        }
        let configuration = self.server.configuration
        let command: RiverCommand
        do {
            command = try RiverCommand(
                parsing: payload,
                maxChannelName: configuration.maxChannelName,
                maxMessageSize: configuration.maxMessageSize
            )
        } catch {
            return self.reply(CommandReply.error(id: error.id, status: error.status, reason: error.reason))
        }
        guard admitted else {
            return self.refuse(command, 429, "more than \(configuration.maxCommandsPerSecond) commands per second")
        }
        if command.kind != .publish && payload.readableBytes > configuration.maxMessageSize {
            return self.refuse(command, 413, "command larger than \(configuration.maxMessageSize) bytes")
        }
        self.authorize(command, session, verified: session.verified)
    }

    /// Decides access as for HTTP; a token the command carries is verified first.
    private func authorize(_ command: RiverCommand, _ session: CommandSession, verified: AccessToken?) {
        var credentials = session.credentials
        if let token = command.token { credentials.token = token }
        let action: AccessPolicy.Action = command.kind == .publish ? .publish : .subscribe
        let commandVerified = command.token == nil ? verified : nil
        // (With a token of its own, the command is verified even on a public channel: it names the subscriber.)
        if let token = command.token, self.server.access.checksTokens, command.kind == .subscribe {
            return self.verifyThenPerform(command, token: token, action: action, credentials: credentials, session)
        }
        switch self.server.access.decide(
            action,
            channel: command.channel,
            credentials: credentials,
            origin: session.origin,
            verified: commandVerified
        ) {
        case .allowed:
            self.consultThenPerform(command, identity: commandVerified, session)
        case .denied(let error):
            self.refuse(command, Int(error.status.code), error.reason)
        case .verify(let token):
            self.verifyThenPerform(command, token: token, action: action, credentials: credentials, session)
        }
    }

    /// Verifies `token`, then decides again with it.
    private func verifyThenPerform(
        _ command: RiverCommand,
        token: String,
        action: AccessPolicy.Action,
        credentials: Credentials,
        _ session: CommandSession
    ) {
        self.server.access.verify(token: token, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
            switch result {
            case .success(let token):
                if let connection = self.context?.channel { self.loop.verified.add(connection, openedBy: token) }
                switch self.server.access.decide(
                    action,
                    channel: command.channel,
                    credentials: credentials,
                    origin: session.origin,
                    verified: token
                ) {
                case .allowed: self.consultThenPerform(command, identity: token, session)
                case .denied(let error): self.refuse(command, Int(error.status.code), error.reason)
                case .verify: self.refuse(command, 403, "invalid token")
                }
            case .failure(let error):
                self.refuse(command, Int(error.status.code), error.reason)
            }
        }
    }

    /// With `auth_url`, asks the application (a cached answer at once) before
    /// a subscribe, a publish or a presence question (which uses the subscribe decision).
    private func consultThenPerform(_ command: RiverCommand, identity: AccessToken?, _ session: CommandSession) {
        guard let asker = session.asker, let authorizer = self.server.authorizer, command.kind != .unsubscribe else {
            return self.perform(command, identity: identity, decided: nil, session)
        }
        let commandAsker = asker.presenting(command.token, claims: identity?.claims)
        let question =
            command.kind == .publish
            ? commandAsker.question(
                .publish,
                channels: [command.channel],
                data: command.data,
                isBinary: command.isBinary
            )
            : commandAsker.question(.subscribe, channels: [command.channel])
        if let cached = authorizer.cachedOutcome(question) {
            return self.perform(command, identity: identity, decided: cached, session)
        }
        authorizer.decide(question, on: self.loop.taskExecutor).assumeIsolated().whenSuccess { result in
            switch result {
            case .success(let outcome): self.perform(command, identity: identity, decided: outcome, session)
            case .failure(let error): self.refuse(command, Int(error.status.code), error.reason)
            }
        }
    }

    private func perform(
        _ command: RiverCommand,
        identity: AccessToken?,
        decided: AuthOutcome?,
        _ session: CommandSession
    ) {
        if let refusal = decided?.refusal([command.channel]) {
            return self.refuse(command, Int(refusal.status.code), refusal.reason)
        }
        switch command.kind {
        case .subscribe:
            self.subscribe(command, identity: identity, member: decided?.member([command.channel]))
            if let decided, let asker = session.asker {
                self.renew(command.channel, asker.presenting(command.token, claims: identity?.claims), after: decided)
            }
        case .unsubscribe: self.unsubscribe(command)
        case .publish: self.publish(command, replacement: decided?.replacement)
        case .presence: self.presence(command)
        }
    }

    private func subscribe(_ command: RiverCommand, identity: AccessToken?, member named: PresenceMember?) {
        guard let subscriber = self.subscriber else { return }
        let channel = command.channel
        if let current = subscriber.subscription(of: channel), case .joined = current.phase {
            // Subscribing again changes nothing.
            let position: [(StaticString, UInt64)] = [("seq", current.writtenSeq), ("epoch", current.epoch)]
            return self.reply(CommandReply.ok(id: command.id, channel: channel, position))
        }
        let limit = self.server.configuration.maxChannelsPerConnection
        guard subscriber.channelCount < limit || subscriber.subscription(of: channel) != nil else {
            return self.refuse(command, 429, "more than \(limit) subscriptions (max_channels_per_connection)")
        }
        // Who subscribes: the token's `sub` (the command's, else the handshake's), else a self-chosen name.
        let member: PresenceMember?
        do throws(RequestError) {
            if let named {
                member = named
            } else if let verified = try identity?.presenceMember() {
                member = verified
            } else {
                member = try SubscribeRequest.selfNamedMember(
                    command.user,
                    channels: [channel],
                    self.server.configuration
                )
            }
        } catch {
            return self.refuse(command, Int(error.status.code), error.reason)
        }
        if let connection = self.context?.channel { self.loop.verified.add(connection, as: member) }
        let start = ChannelStart(
            channel,
            ResumePoint(seq: command.seq, epoch: command.epoch),
            wantsPresence: command.presence,
            member: member
        )
        let handler = NIOLoopBound(self, eventLoop: self.loop.eventLoop)
        let id = command.id
        let asked = command.seq
        subscriber.add(
            start,
            ChannelAddition(
                acknowledgement: { catchUp in
                    // The stream starts at the seq asked for, else at the channel's current seq;
                    // after a reset, at the start of what the channel retains.
                    let isReset = catchUp.notices.contains { if case .reset = $0 { true } else { false } }
                    let seq = isReset ? 0 : (asked ?? catchUp.lastSeq)
                    let json = CommandReply.ok(id: id, channel: channel, [("seq", seq), ("epoch", catchUp.epoch)])
                    return WebSocketFraming.frame(opcode: .text, payload: json, allocator: ByteBufferAllocator())
                },
                failed: { reason in handler.value.reply(CommandReply.error(id: id, status: 503, reason: reason)) }
            )
        )
    }

    private func unsubscribe(_ command: RiverCommand) {
        guard let subscriber = self.subscriber else { return }
        guard subscriber.remove(command.channel) else {
            return self.refuse(command, 404, "not subscribed to \(command.channel)")
        }
        self.renewals.removeValue(forKey: command.channel)?.cancel()
        self.reply(CommandReply.ok(id: command.id, channel: command.channel))
    }

    private func publish(_ command: RiverCommand, replacement: (data: ByteBuffer, isBinary: Bool)?) {
        guard let data = replacement?.data ?? command.data else { return }
        let isBinary = replacement?.isBinary ?? command.isBinary
        self.loop.counters.publishes += 1
        self.loop.instruments?.notePublish(command.channel)
        let handler = NIOLoopBound(self, eventLoop: self.loop.eventLoop)
        let (id, channel) = (command.id, command.channel)
        self.server.engine.publish(data, isBinary: isBinary, to: channel, on: self.loop.eventLoop) { result in
            switch result {
            case .success(let seq):
                handler.value.reply(CommandReply.ok(id: id, channel: channel, [("seq", seq)]))
            case .failure(let error):
                handler.value.reply(CommandReply.error(id: id, status: 503, reason: error.description))
            }
        }
    }

    private func presence(_ command: RiverCommand) {
        let (id, channel) = (command.id, command.channel)
        let limit = self.server.configuration.maxPresenceMembers
        self.server.engine.presence(of: channel, limit: limit, on: self.loop.eventLoop).assumeIsolated().whenComplete {
            result in
            switch result {
            case .success(let snapshot):
                self.reply(CommandReply.ok(id: id, presence: snapshot))
            case .failure(let error):
                let refusal = RequestError.engineFailure(error, doing: "cannot read the presence of \(channel)")
                self.reply(CommandReply.error(id: id, status: Int(refusal.status.code), reason: refusal.reason))
            }
        }
    }

    private func refuse(_ command: RiverCommand, _ status: Int, _ reason: String) {
        self.reply(CommandReply.error(id: command.id, status: status, reason: reason))
    }
}
