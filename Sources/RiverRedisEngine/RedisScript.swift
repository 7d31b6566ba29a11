import Crypto
import NIOCore

/// A Lua script run atomically by Redis: by its SHA1 (EVALSHA), loaded with
/// EVAL the first time a server does not know it (NOSCRIPT), so a restarted
/// Redis needs nothing special.
struct RedisScript: Sendable {
    let source: String
    let sha1: String

    init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let digits = Array("0123456789abcdef".utf8)
            return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
        }.joined()
    }

    /// Runs the script; a Redis error reply fails the future with `RedisReplyError`.
    func run(
        on client: RedisClient,
        keys: [RESPCommand.Argument],
        arguments: [RESPCommand.Argument]
    ) -> EventLoopFuture<RESPValue> {
        let tail = [.integer(Int64(keys.count))] + keys + arguments
        let eventLoop = client.eventLoop
        return client.send(RESPCommand("EVALSHA", [.text(self.sha1)] + tail)).assumeIsolated().flatMap { reply in
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                return client.send(RESPCommand("EVAL", [.text(self.source)] + tail))
            }
            return eventLoop.makeSucceededFuture(reply)
        }.flatMapThrowing { reply in
            if case .error(let message) = reply { throw RedisReplyError(message: message) }
            return reply
        }.nonisolated()
    }
}
