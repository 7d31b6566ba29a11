import NIOCore
import RiverCore

/// `/publish`: validates the message, and once the engine has stored it,
/// answers `{"channel": "NAME", "seq": N}` (never after fan-out).
///
/// A message that is not valid UTF-8, or a raw body sent as
/// `Content-Type: application/octet-stream`, is binary: stored and replayed
/// byte for byte, delivered as binary WebSocket frames, in base64 where a
/// format needs text.
enum PublishResponder {
    /// A publish that passed validation.
    struct Publish {
        let channel: ChannelName
        /// The message in a buffer of its own: history must not pin a connection's read buffer.
        let payload: ByteBuffer
        /// Bytes rather than text (`Message.isBinary`).
        let isBinary: Bool
        let head: ParsedRequestHead
    }

    static func validate(_ request: ParsedRequest, configuration: RiverConfiguration) throws(RequestError) -> Publish {
        let head = request.head
        // HEAD and OPTIONS must stay safe (RFC 9110 section 9.2.1): they never publish.
        guard head.method == .get || head.method == .post else { throw .methodNotAllowed("GET, POST") }
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
        // A non-form POST body is the message, an empty one included when a
        // content type says so and the query names no `data`.
        let hasRawBody =
            head.method == .post && !head.isFormEncoded
            && (request.body.readableBytes > 0 || (head.hasContentType && !parameters.contains("data")))
        let channel = try parameters.channelName(maxBytes: configuration.maxChannelName)
        let data: ByteBuffer
        if hasRawBody {
            data = request.body
        } else if let decoded = try parameters.bytes("data") {
            data = decoded
        } else {
            throw .missingParameter("data")
        }
        guard data.readableBytes <= configuration.maxMessageSize else {
            throw .tooLarge("message is larger than max_message_size (\(configuration.maxMessageSize) bytes)")
        }
        let isBinary =
            (hasRawBody && head.isOctetStream) || !data.withUnsafeReadableBytes({ UTF8Validation.isValid($0) })
        var payload = ByteBufferAllocator().buffer(capacity: data.readableBytes)
        payload.writeImmutableBuffer(data)
        return Publish(channel: channel, payload: payload, isBinary: isBinary, head: head)
    }

    /// Stores `publish` (counted on `loop`), then hands its answer — the seq, or
    /// why the engine refused it — to `answer`, on `eventLoop`.
    static func store(
        _ publish: Publish,
        headers: [(String, String)],
        server: ServerContext,
        loop: ServerLoop,
        on eventLoop: EventLoop,
        answer: @escaping @Sendable (CompleteResponse) -> Void
    ) {
        loop.counters.publishes += 1
        loop.instruments?.notePublish(publish.channel)
        server.engine.publish(publish.payload, isBinary: publish.isBinary, to: publish.channel, on: eventLoop) {
            result in
            switch result {
            case .success(let seq): answer(Self.response(seq: seq, for: publish, headers: headers))
            case .failure(let error): answer(.refusal(.engineFailure(error), headers: headers))
            }
        }
    }

    /// The answer to a stored publish: `{"channel": "NAME", "seq": N}`.
    static func response(seq: UInt64, for publish: Publish, headers: [(String, String)]) -> CompleteResponse {
        let name = publish.channel.value
        var body = ByteBuffer()
        body.reserveCapacity(24 + name.utf8.count + 20)
        body.writeStaticString("{\"channel\": ")
        JSONString.write(name, into: &body)
        body.writeStaticString(", \"seq\": ")
        body.writeDecimal(seq)
        body.writeStaticString("}")
        return CompleteResponse(status: .ok, contentType: "application/json", headers: headers, body: body)
    }
}
