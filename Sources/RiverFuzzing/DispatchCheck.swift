import Dispatch
import NIOCore
import NIOEmbedded
import RiverServer
import RiverTesting

/// The whole dispatch on arbitrary bytes: one connection of a real River
/// (`EmbeddedServer`: the connection handler, its state machine, the
/// dispatcher, routing, parameter decoding, access control, the publish,
/// subscribe and admin responders, the memory engine) reads the bytes, and
/// what it writes back must be well-formed:
///
/// - a sequence of HTTP/1.1 responses (an open stream or a WebSocket may end it);
/// - every refusal is `text/plain`, `nosniff`, one line of printable ASCII;
/// - no header value carries a control character (no header injection);
/// - credentialed CORS only for the origin listed by name, never with `*`.
///
/// And token decoding: any text as a token is refused with one short line,
/// or accepted. Each check returns what was violated (the fuzzer's entry
/// point stops the process with it; a test fails with it).
///
/// An instance belongs to the thread that made it (its event loop is an
/// `EmbeddedEventLoop`): the fuzzer keeps one, each test makes its own.
public final class DispatchCheck {
    /// Access control on (secrets, a private prefix, a listed origin beside `*`), small limits.
    static let configuration: RiverConfiguration = {
        var configuration = RiverConfiguration()
        for (key, value) in [
            ("publish_secret", "0123456789abcdef"), ("admin_secret", "fedcba9876543210"),
            ("private_prefix", "private-"), ("allowed_origins", "\(listedOrigin) *"), ("max_memory", "1m"),
            ("max_message_size", "4k"), ("history_size", "4"),
        ] {
            try! configuration.set(key, to: value)
        }
        return configuration
    }()

    static let listedOrigin = "https://river.example"

    /// One server for every input checked on this thread.
    private let server: EmbeddedServer

    public init() {
        self.server = try! EmbeddedServer(Self.configuration)
    }

    /// The first property the answer to `bytes` violates, or nil.
    public func check(_ bytes: UnsafeRawBufferPointer) -> String? {
        let channel = try! self.server.connect()
        _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
        self.server.eventLoop.run()
        var output: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            output += buffer.readableBytesView
        }
        try? channel.close().wait()
        self.server.eventLoop.run()
        if bytes.starts(with: "<policy-file-request/>".utf8) { return nil }  // the Flash policy, not HTTP
        let methods = ParserDifferentialCheck.river(bytes, limits: self.server.parserLimits).messages.map(\.method)
        if let violation = ResponseStream.violation(in: output, methods: methods, listedOrigin: Self.listedOrigin) {
            return "\(violation); input \(Array(bytes.prefix(300)))"
        }
        return nil
    }

    /// A server that checks tokens, for `checkToken`.
    static let tokenServer: InProcessRiver = DispatchCheck.blocking {
        var configuration = RiverConfiguration()
        try! configuration.set("token_secret", to: "0123456789abcdef0123456789abcdef")
        try! configuration.set("token_issuer", to: "https://issuer.example")
        return try! await InProcessRiver.start(configuration)
    }

    /// Decodes `bytes` as a token: accepted, or refused with one short printable
    /// line. Returns the violation, or nil.
    public func checkToken(_ bytes: UnsafeRawBufferPointer) -> String? {
        let token = String(decoding: bytes, as: UTF8.self)
        let server = Self.tokenServer
        guard let reason = Self.blocking({ await server.refusal(ofToken: token) }) else { return nil }
        guard reason.utf8.count <= 200 && reason.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            return "token refusal is not one short printable line: \(reason.debugDescription)"
        }
        return nil
    }

    /// Runs `body` to completion on Swift's executors, waiting for it here (the fuzzer is synchronous).
    private static func blocking<Value>(_ body: @escaping () async -> Value) -> Value {
        let box = BlockingResult(body)
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = await box.body()
            done.signal()
        }
        done.wait()
        return box.value!
    }
}

/// The result of an asynchronous body, handed from Swift's executors to a waiting thread.
private final class BlockingResult<Value>: @unchecked Sendable {
    var value: Value?
    let body: () async -> Value
    init(_ body: @escaping () async -> Value) { self.body = body }
}
