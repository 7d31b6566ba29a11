import NIOCore
import RiverCore

/// `/publish`: validates the message, hands it to the engine and answers
/// `{"channel": "NAME", "seq": N}` once it is stored (never after fan-out).
enum PublishResponder {
    static func respond(
        to request: HTTPRequest,
        server: ServerContext,
        on loop: EventLoop
    ) throws(RequestError) -> EventLoopFuture<ByteBuffer> {
        let head = request.head
        guard head.method == .get || head.method == .post || head.method == .head else {
            throw .methodNotAllowed("GET, POST")
        }
        let configuration = server.configuration
        let hasRawBody = head.method == .post && !head.isFormEncoded && request.body.readableBytes > 0
        let parameters = RequestParameters(
            query: head.query,
            formBody: head.method == .post && head.isFormEncoded ? request.body : nil
        )
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
        guard data.withUnsafeReadableBytes({ UTF8Validation.isValid($0) }) else {
            throw .invalidParameter("data", "not valid UTF-8")
        }
        // A buffer of its own: history must not pin the connection's read buffer.
        var payload = ByteBufferAllocator().buffer(capacity: data.readableBytes)
        payload.writeImmutableBuffer(data)

        return server.engine.publish(payload, to: channel, on: loop).map { seq in
            var body = ByteBuffer()
            body.reserveCapacity(32 + channel.value.utf8.count)
            body.writeStaticString("{\"channel\": ")
            JSONString.write(channel.value, into: &body)
            body.writeStaticString(", \"seq\": ")
            body.writeDecimal(seq)
            body.writeStaticString("}")
            return HTTPResponseWriter.response(
                status: .ok,
                contentType: "application/json",
                body: body,
                request: head,
                keepAlive: head.keepAlive,
                allocator: ByteBufferAllocator()
            )
        }
    }
}
