import NIOCore
import RiverCore

/// Orders between nodes (`NodeOrder`), on the pub/sub channel `river:control` of the first
/// shard, which every loop of every node subscribes to:
///
/// - `d NODE REQUEST USER`: end USER's connections (`/users/U/disconnect`);
/// - `r NODE REQUEST UNTIL JTI`: refuse the token JTI until UNTIL and end its connections
///   (`/tokens/revoke`). Revocations are also kept in the sorted set `river:revoked`
///   (JTI scored by UNTIL) of the first shard, which a loop reads each time it subscribes
///   to the control channel: a node started later, or cut off from Redis meanwhile, learns
///   them then.
///
/// Every loop of every other node carries the order out (`LoopHub.carryOut`) and publishes
/// `c NODE REQUEST COUNT`. The asker adds the counts up until it has one from each loop
/// PUBLISH said was listening, less its own node's, or `controlReplyTimeout` passes (a node
/// that died meanwhile): then it answers with what it has.
extension RedisChannelStore {
    static let controlChannel = "river:control"
    /// The first shard's sorted set of revoked token ids, scored by the second until which they stay revoked.
    static let revokedTokens = "river:revoked"
    /// How long the asker waits for the other nodes' counts.
    static let controlReplyTimeout: TimeAmount = .seconds(2)

    /// An order this loop gave, waiting for the other nodes' counts.
    final class ControlRequest {
        let promise: EventLoopPromise<Int>
        /// How many counts to wait for, once PUBLISH has answered.
        var expected: Int?
        var received = 0
        var total = 0
        var deadline: Scheduled<Void>?

        init(promise: EventLoopPromise<Int>) {
            self.promise = promise
        }

        var isComplete: Bool { self.expected.map { self.received >= $0 } ?? false }
    }

    /// Subscribes this loop to the control channel (the first shard's subscription connection
    /// came up), then reads the revocations still in force.
    func subscribeToControl() {
        let command = RESPCommand("SUBSCRIBE", [.text(Self.controlChannel)])
        self.links[0].subscriptions.send(command) { result in
            if case .success(let reply) = result, reply.array?.first?.string == "subscribe" {
                return self.readRevokedTokens()
            }
            self.logger.warning("cannot follow the control channel", metadata: ["reply": "\(result)"])
        }
    }

    /// Reads the revocations still in force and carries them out on this loop: each time the
    /// subscription to the control channel starts, and each time the first shard's command
    /// connection comes up (it may come up after the subscription did).
    func readRevokedTokens() {
        let now = WallClock.nowMillis() / 1000
        let read = RESPCommand(
            "ZRANGEBYSCORE",
            [.text(Self.revokedTokens), .text("\(now)"), .text("+inf"), .text("WITHSCORES")]
        )
        self.links[0].commands.send(read) { result in
            guard case .success(let reply) = result, let pairs = reply.array else {
                if case .failure(RedisConnectionError.notConnected) = result { return }  // (read when it connects)
                return self.logger.warning("cannot read the revoked tokens", metadata: ["reply": "\(result)"])
            }
            let hub = self.fanOut.hubs[self.index].value
            for index in stride(from: 0, to: pairs.count - 1, by: 2) {
                guard let id = pairs[index].string, let until = pairs[index + 1].integer else { continue }
                _ = hub.carryOut(.revokeToken(id: id, until: until))
            }
        }
    }

    /// Whether a pub/sub message came on the control channel.
    static func isControl(_ pubSubChannel: ByteBuffer) -> Bool {
        pubSubChannel.readableBytesView.elementsEqual(Self.controlChannel.utf8)
    }

    /// Has every other node carry out `order`; how many connections they ended.
    func tellOtherNodes(_ order: NodeOrder) -> EventLoopFuture<Int> {
        self.nextControlRequest += 1
        let id = "\(self.index).\(self.nextControlRequest)"
        let request = ControlRequest(promise: self.eventLoop.makePromise(of: Int.self))
        self.controlRequests[id] = request
        request.deadline = self.eventLoop.assumeIsolated().scheduleTask(in: Self.controlReplyTimeout) {
            self.finish(id)
        }
        let link = self.links[0]
        let text: String
        switch order {
        case .disconnectUser(let user):
            text = "d \(self.node) \(id) \(user)"
        case .revokeToken(let token, let until):
            text = "r \(self.node) \(id) \(until) \(token)"
            // Kept before it is told (one connection keeps the order), pruned of what has lapsed.
            let now = WallClock.nowMillis() / 1000
            let keep = RESPCommand("ZADD", [.text(Self.revokedTokens), .text("GT"), .text("\(until)"), .text(token)])
            let prune = RESPCommand("ZREMRANGEBYSCORE", [.text(Self.revokedTokens), .text("-inf"), .text("(\(now)")])
            link.commands.send(keep) { _ in }
            link.commands.send(prune) { _ in }
        }
        link.commands.send(RESPCommand("PUBLISH", [.text(Self.controlChannel), .text(text)])) { result in
            guard let request = self.controlRequests[id] else { return }
            switch result {
            case .success(.integer(let listening)):
                request.expected = max(Int(listening) - self.fanOut.hubs.count, 0)
                if request.isComplete { self.finish(id) }
            case .success(let other):
                self.fail(id, link.unavailable(RedisReplyError(message: "PUBLISH answered \(other)")))
            case .failure(let error):
                self.fail(id, link.unavailable(error))
            }
        }
        return request.promise.futureResult
    }

    /// A message on the control channel: another node's order, or a count for this loop's request.
    func receivedControl(_ payload: ByteBuffer) {
        let text = String(buffer: payload)
        let parts = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return }
        let (kind, node, id, rest) = (parts[0], parts[1], String(parts[2]), parts[3])
        let hub = self.fanOut.hubs[self.index].value
        switch kind {
        case "d" where node != self.node:
            self.answer(node, id, count: hub.carryOut(.disconnectUser(String(rest))))
        case "r" where node != self.node:
            let fields = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard fields.count == 2, let until = Int64(fields[0]) else { return }
            self.answer(node, id, count: hub.carryOut(.revokeToken(id: String(fields[1]), until: until)))
        case "c" where node == self.node:
            guard let request = self.controlRequests[id], let count = Int(rest) else { return }
            request.received += 1
            request.total += count
            if request.isComplete { self.finish(id) }
        default:
            return
        }
    }

    /// Tells `node` how many connections this loop ended for its request `id`.
    private func answer(_ node: Substring, _ id: String, count: Int) {
        let reply = RESPCommand("PUBLISH", [.text(Self.controlChannel), .text("c \(node) \(id) \(count)")])
        self.links[0].commands.send(reply) { _ in }
    }

    private func finish(_ id: String) {
        guard let request = self.controlRequests.removeValue(forKey: id) else { return }
        request.deadline?.cancel()
        request.promise.succeed(request.total)
    }

    private func fail(_ id: String, _ error: EngineError) {
        guard let request = self.controlRequests.removeValue(forKey: id) else { return }
        request.deadline?.cancel()
        request.promise.fail(error)
    }
}
