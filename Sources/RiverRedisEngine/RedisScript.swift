import Crypto
import NIOCore

/// A Lua script run atomically by Redis: by its SHA1 (EVALSHA), loaded with
/// EVAL the first time a server does not know it (NOSCRIPT), so a restarted
/// or newly promoted Redis needs nothing special.
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

    /// Runs the script; `reply` gets its reply, or `RedisReplyError` for a Redis error reply.
    func run(
        on client: RedisClient,
        keys: [RESPCommand.Argument],
        arguments: [RESPCommand.Argument],
        reply: @escaping (Result<RESPValue, Error>) -> Void
    ) {
        var all: [RESPCommand.Argument] = []
        all.reserveCapacity(2 + keys.count + arguments.count)
        all.append(.text(self.sha1))
        all.append(.integer(Int64(keys.count)))
        all.append(contentsOf: keys)
        all.append(contentsOf: arguments)
        client.send(RESPCommand("EVALSHA", all)) { result in
            if case .success(.error(let message)) = result, message.hasPrefix("NOSCRIPT") {
                all[0] = .text(self.source)
                client.send(RESPCommand("EVAL", all)) { reply(Self.checked($0)) }
                return
            }
            reply(Self.checked(result))
        }
    }

    /// `run` as a future.
    func run(
        on client: RedisClient,
        keys: [RESPCommand.Argument],
        arguments: [RESPCommand.Argument]
    ) -> EventLoopFuture<RESPValue> {
        let promise = client.eventLoop.makePromise(of: RESPValue.self)
        self.run(on: client, keys: keys, arguments: arguments) { promise.completeWith($0) }
        return promise.futureResult
    }

    private static func checked(_ result: Result<RESPValue, Error>) -> Result<RESPValue, Error> {
        if case .success(.error(let message)) = result { return .failure(RedisReplyError(message: message)) }
        return result
    }
}
