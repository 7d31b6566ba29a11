import NIOCore
import RiverCore

/// Orders between nodes, on the pub/sub channel `river:control` of the first shard, which
/// every loop of every node subscribes to. Today one order: `/users/U/disconnect`, which
/// ends the user's connections on every node.
///
/// The asking loop publishes `d NODE REQUEST USER`. Every loop of every other node ends its
/// connections of USER (`LoopHub.endUserConnections`) and publishes `c NODE REQUEST COUNT`.
/// The asker adds the counts up until it has one from each loop PUBLISH said was listening,
/// less its own node's, or `controlReplyTimeout` passes (a node that died meanwhile): then it
/// answers with what it has.
extension RedisChannelStore {
    static let controlChannel = "river:control"
    /// How long the asker waits for the other nodes' counts.
    static let controlReplyTimeout: TimeAmount = .seconds(2)

    /// A disconnect this loop asked for, waiting for the other nodes' counts.
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

    /// Subscribes this loop to the control channel (the first shard's subscription connection came up).
    func subscribeToControl() {
        let command = RESPCommand("SUBSCRIBE", [.text(Self.controlChannel)])
        self.links[0].subscriptions.send(command) { result in
            if case .success(let reply) = result, reply.array?.first?.string == "subscribe" { return }
            self.logger.warning("cannot follow the control channel", metadata: ["reply": "\(result)"])
        }
    }

    /// Whether a pub/sub message came on the control channel.
    static func isControl(_ pubSubChannel: ByteBuffer) -> Bool {
        pubSubChannel.readableBytesView.elementsEqual(Self.controlChannel.utf8)
    }

    /// Asks every other node to end `user`'s connections; how many they had.
    func disconnectOnOtherNodes(_ user: String) -> EventLoopFuture<Int> {
        self.nextControlRequest += 1
        let id = "\(self.index).\(self.nextControlRequest)"
        let request = ControlRequest(promise: self.eventLoop.makePromise(of: Int.self))
        self.controlRequests[id] = request
        request.deadline = self.eventLoop.assumeIsolated().scheduleTask(in: Self.controlReplyTimeout) {
            self.finish(id)
        }
        let link = self.links[0]
        let order = RESPCommand("PUBLISH", [.text(Self.controlChannel), .text("d \(self.node) \(id) \(user)")])
        link.commands.send(order) { result in
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
        let (kind, node, id, rest) = (parts[0], parts[1], String(parts[2]), String(parts[3]))
        switch kind {
        case "d" where node != self.node:
            let count = self.fanOut.hubs[self.index].value.endUserConnections(rest)
            let reply = RESPCommand("PUBLISH", [.text(Self.controlChannel), .text("c \(node) \(id) \(count)")])
            self.links[0].commands.send(reply) { _ in }
        case "c" where node == self.node:
            guard let request = self.controlRequests[id], let count = Int(rest) else { return }
            request.received += 1
            request.total += count
            if request.isComplete { self.finish(id) }
        default:
            return
        }
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
