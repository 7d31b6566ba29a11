import NIOCore
import RiverCore

/// `/publish`: validates the message, and once the engine has stored it,
/// answers `{"channel": "NAME", "seq": N}` (never after fan-out).
enum PublishResponder {
    /// A publish that passed validation.
    struct Publish {
        let channel: ChannelName
        /// The message in a buffer of its own: history must not pin a connection's read buffer.
        let payload: ByteBuffer
        let head: HTTPRequestHead
    }

    static func validate(_ request: HTTPRequest, configuration: RiverConfiguration) throws(RequestError) -> Publish {
        let head = request.head
        guard head.method == .get || head.method == .post || head.method == .head else {
            throw .methodNotAllowed("GET, POST")
        }
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
        guard data.withUnsafeReadableBytes({ UTF8Validation.isValid($0) }) else {
            throw .invalidParameter("data", "not valid UTF-8")
        }
        var payload = ByteBufferAllocator().buffer(capacity: data.readableBytes)
        payload.writeImmutableBuffer(data)
        return Publish(channel: channel, payload: payload, head: head)
    }

    /// The answer to a stored publish, head and body written into one buffer.
    static func response(
        seq: UInt64,
        for publish: Publish,
        extraHeaders: [(String, String)],
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let name = publish.channel.value
        let bodyLength = 12 + JSONString.encodedLength(name) + 9 + Self.decimalDigits(seq) + 1
        var buffer = allocator.buffer(capacity: 128 + bodyLength)
        HTTPResponseWriter.writeHead(
            status: .ok,
            contentType: "application/json",
            framing: .length(bodyLength),
            keepAlive: publish.head.keepAlive,
            isHTTP10: publish.head.isHTTP10,
            extraHeaders: extraHeaders,
            into: &buffer
        )
        if publish.head.method != .head {
            buffer.writeStaticString("{\"channel\": ")
            JSONString.write(name, into: &buffer)
            buffer.writeStaticString(", \"seq\": ")
            buffer.writeDecimal(seq)
            buffer.writeStaticString("}")
        }
        return buffer
    }

    private static func decimalDigits(_ value: UInt64) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }
}
