import Logging
import NIOCore
import RiverCore

/// The operator's routes: `GET|DELETE /channels/NAME`, `GET /channels`
/// (prefix, paginated), `GET /stats` (JSON), `GET /metrics` (Prometheus),
/// `POST /users/U/disconnect`, `POST /tokens/revoke`, `GET /health`.
///
/// With a Redis shard down, what needs it answers 503 saying what could not
/// be done and naming the shard (`RequestError.engineFailure`): a channel
/// of that shard, and the listing (a page without its names would mislead
/// paging). `/stats` and `/metrics` answer 200 with the reachable shards'
/// figures and the missing shards listed; `/health` never asks the engine.
enum AdminResponder {
    /// What an admin route answers.
    enum Answer: Sendable {
        case document(contentType: String, body: ByteBuffer)
        case refused(RequestError)
    }

    static func respond(
        to route: Route,
        request: ParsedRequest,
        server: ServerContext,
        on loop: EventLoop
    ) throws(RequestError) -> EventLoopFuture<Answer> {
        let head = request.head
        switch route {
        case .channel(let encoded):
            let channel = try Self.channelName(encoded, maxBytes: server.configuration.maxChannelName)
            switch head.method {
            case .get, .head:
                return server.engine.info(channel, on: loop).map { info -> Answer in
                    guard let info else { return .refused(.notFound("no such channel: \(channel)")) }
                    return .document(contentType: "application/json", body: Self.json(info))
                }.recover { Self.failed($0, doing: "cannot read channel \(channel)", server: server) }
            case .delete:
                return server.engine.delete(channel, on: loop).map { existed -> Answer in
                    guard existed else { return .refused(.notFound("no such channel: \(channel)")) }
                    var body = ByteBuffer()
                    body.writeStaticString("{\"channel\": ")
                    JSONString.write(channel.value, into: &body)
                    body.writeStaticString(", \"deleted\": true}")
                    return .document(contentType: "application/json", body: body)
                }.recover { Self.failed($0, doing: "cannot delete channel \(channel)", server: server) }
            default:
                throw .methodNotAllowed("GET, DELETE")
            }
        case .channelList:
            guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET") }
            let query = try ChannelListQuery(query: head.query)
            let limit = query.limit
            let names = server.engine.list(prefix: query.prefix, after: query.after, limit: limit, on: loop)
            return names.map { names -> Answer in
                var body = ByteBuffer()
                body.writeStaticString("{\"channels\": [")
                for (index, name) in names.enumerated() {
                    if index > 0 { body.writeStaticString(", ") }
                    JSONString.write(name.value, into: &body)
                }
                body.writeStaticString("], \"next\": ")
                if names.count == limit, let last = names.last {
                    JSONString.write(last.value, into: &body)
                } else {
                    body.writeStaticString("null")
                }
                body.writeStaticString("}")
                return .document(contentType: "application/json", body: body)
            }.recover { Self.failed($0, doing: "cannot list channels", server: server) }
        case .stats:
            guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET") }
            return ServerStatistics.collect(server, on: loop).map {
                .document(contentType: "application/json", body: $0.json(engineName: server.engine.name))
            }
        case .metrics:
            guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET") }
            return ServerStatistics.collect(server, on: loop).map {
                .document(
                    contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: ByteBuffer(bytes: server.metrics.render($0))
                )
            }
        case .userDisconnect(let encoded):
            guard head.method == .post else { throw .methodNotAllowed("POST") }
            let user = try Self.userName(encoded)
            return server.carryOut(.disconnectUser(user), on: loop).map { count in
                var body = ByteBuffer()
                body.writeStaticString("{\"user\": ")
                JSONString.write(user, into: &body)
                body.writeString(", \"connections\": \(count)}")
                return .document(contentType: "application/json", body: body)
            }
        case .tokenRevoke:
            guard head.method == .post else { throw .methodNotAllowed("POST") }
            let revocation = try TokenRevocation(request)
            return try server.revoke(revocation, on: loop).map { count in
                var body = ByteBuffer()
                body.writeStaticString("{\"jti\": ")
                JSONString.write(revocation.id, into: &body)
                body.writeString(", \"exp\": \(revocation.expires), \"connections\": \(count)}")
                return .document(contentType: "application/json", body: body)
            }
        case .health:
            guard head.method == .get || head.method == .head else { throw .methodNotAllowed("GET") }
            return loop.makeSucceededFuture(
                .document(contentType: "text/plain; charset=utf-8", body: ByteBuffer(string: "ok\n"))
            )
        default:
            throw .notFound(head.path)
        }
    }

    /// An engine's failure as the answer (`RequestError.engineFailure`: 503
    /// for an `EngineError`); anything else is a defect, logged, and a 500.
    private static func failed(_ error: Error, doing: String, server: ServerContext) -> Answer {
        let refusal = RequestError.engineFailure(error, doing: doing)
        if refusal.status == .internalServerError {
            server.logger.error("an admin route failed", metadata: ["doing": "\(doing)", "error": "\(error)"])
        }
        return .refused(refusal)
    }

    /// `{"channel": ..., "seq": ..., "subscribers": ..., "history": ..., "first_seq": ..., "last_publish": ...}`
    static func json(_ info: ChannelInfo) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeStaticString("{\"channel\": ")
        JSONString.write(info.channel.value, into: &body)
        body.writeStaticString(", \"seq\": ")
        body.writeDecimal(info.seq)
        body.writeStaticString(", \"subscribers\": ")
        body.writeDecimal(UInt64(info.subscribers))
        body.writeStaticString(", \"history\": ")
        body.writeDecimal(UInt64(info.history))
        body.writeStaticString(", \"first_seq\": ")
        if let first = info.firstSeq { body.writeDecimal(first) } else { body.writeStaticString("null") }
        body.writeStaticString(", \"last_publish\": ")
        if let millis = info.lastPublishMillis {
            JSONString.write(WallClock.iso8601(millis: millis), into: &body)
        } else {
            body.writeStaticString("null")
        }
        body.writeStaticString("}")
        return body
    }

    /// The channel named in a path, percent-decoded (`+` stays `+`) and validated.
    /// A user named in a path: percent-decoded, valid UTF-8, 1 to 256 bytes (as presence takes them).
    private static func userName(_ encoded: String) throws(RequestError) -> String {
        guard let decoded = try? PercentDecoding.decode(ByteBuffer(string: encoded), plusIsSpace: false) else {
            throw .badRequest("malformed percent-encoding in user name")
        }
        guard let user = decoded.getString(at: decoded.readerIndex, length: decoded.readableBytes),
            Array(user.utf8) == Array(decoded.readableBytesView), (1...256).contains(decoded.readableBytes)
        else {
            throw .badRequest("a user name is 1 to 256 bytes of UTF-8")
        }
        return user
    }

    private static func channelName(_ encoded: String, maxBytes: Int) throws(RequestError) -> ChannelName {
        let decoded: ByteBuffer
        do {
            decoded = try PercentDecoding.decode(ByteBuffer(string: encoded), plusIsSpace: false)
        } catch {
            throw .badRequest("malformed percent-encoding in channel name")
        }
        do {
            return try decoded.withUnsafeReadableBytes { bytes throws(ChannelName.ValidationError) in
                try ChannelName(validating: bytes, maxBytes: maxBytes)
            }
        } catch {
            throw .badRequest(error.description)
        }
    }
}
