import NIOCore
import RiverCore

extension StreamSubscriber {
    /// The application refused `channel` when asked again (`auth_url`): the
    /// client is told — `["revoked", {"channel": C, "reason": R}]`, SSE
    /// `event: revoked` — then the stream ends (a WebSocket closes with 1008).
    func revoke(_ channel: ChannelName, reason: String) {
        guard let output = self.output else { return }
        let allocator = output.allocator
        let notice = self.framing.framedNotice(
            CommandReply.revoked(channel: channel, reason: reason),
            object: {
                var object = allocator.buffer(capacity: 64 + reason.utf8.count)
                CommandReply.writeRevokedObject(channel: channel, reason: reason, into: &object)
                return object
            },
            event: "revoked",
            eventStreamID: nil,
            allocator: allocator
        )
        output.write(notice)
        output.recordCut(.revoked, transport: self.transportName, detail: "\(channel): \(reason)")
        self.finish(.revoked)
    }
}
