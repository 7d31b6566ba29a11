import NIOCore
import RiverCore

/// Every node's dashboard figures, shared through the pub/sub channel `river:nodes` of the
/// first shard: once a second each node's first loop publishes `NODE HEARTBEAT` (a small
/// JSON object, `Engine.exchangeHeartbeat`) and keeps the latest heartbeat of every node it
/// hears, this one's included; one not heard from for `heartbeatLifetime` is dropped.
extension RedisChannelStore {
    static let heartbeatChannel = "river:nodes"
    /// How long a node's last heartbeat is shown without a newer one.
    static let heartbeatLifetime: TimeAmount = .seconds(5)

    /// Follows the heartbeats (the first loop only: the dashboard's sampler runs there).
    func subscribeToHeartbeats() {
        guard self.index == 0 else { return }
        let command = RESPCommand("SUBSCRIBE", [.text(Self.heartbeatChannel)])
        self.links[0].subscriptions.send(command) { result in
            if case .success(let reply) = result, reply.array?.first?.string == "subscribe" { return }
            self.logger.warning("cannot follow the nodes' heartbeats", metadata: ["reply": "\(result)"])
        }
    }

    /// Whether a pub/sub message came on the heartbeat channel.
    static func isHeartbeat(_ pubSubChannel: ByteBuffer) -> Bool {
        pubSubChannel.readableBytesView.elementsEqual(Self.heartbeatChannel.utf8)
    }

    /// A node's heartbeat: kept until a newer one comes or it is too old.
    func receivedHeartbeat(_ payload: ByteBuffer) {
        var payload = payload
        guard let space = payload.readableBytesView.firstIndex(of: UInt8(ascii: " ")),
            let node = payload.readString(length: space - payload.readerIndex),
            payload.readInteger(as: UInt8.self) != nil,
            payload.readableBytes <= 4096, self.heartbeats.count < 1024 || self.heartbeats[node] != nil
        else { return }
        self.heartbeats[node] = (payload, self.eventLoop.now)
    }

    /// Publishes this node's heartbeat; the latest of every node heard from, by node name.
    func exchangeHeartbeat(_ heartbeat: ByteBuffer) -> [ByteBuffer] {
        var message = ByteBuffer(string: self.node + " ")
        message.writeImmutableBuffer(heartbeat)
        self.links[0].commands.send(RESPCommand("PUBLISH", [.text(Self.heartbeatChannel), .bytes(message)])) { _ in }
        let now = self.eventLoop.now
        self.heartbeats = self.heartbeats.filter { now - $0.value.at < Self.heartbeatLifetime }
        self.heartbeats[self.node] = (heartbeat, now)
        return self.heartbeats.sorted { $0.key < $1.key }.map(\.value.heartbeat)
    }
}
