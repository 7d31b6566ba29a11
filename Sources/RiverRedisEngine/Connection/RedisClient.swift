import Logging
import NIOCore
import NIOPosix

/// A connection to Redis owned by one event loop and re-established, with
/// backoff, whenever it drops. A command sent while it is down fails at once
/// (River answers 503) rather than waiting in a queue.
///
/// A subscription client (`isSubscriptionConnection`) carries SUBSCRIBE and
/// UNSUBSCRIBE and hands the messages Redis pushes to `onPush`.
final class RedisClient {
    let eventLoop: EventLoop
    let address: RedisAddress
    private let isSubscriptionConnection: Bool
    private let logger: Logger
    private var handler: RedisConnectionHandler?
    private var channel: Channel?
    private var failedAttempts = 0
    private var isStopped = false
    private var isConnecting = false

    /// Called on the loop once a connection is ready (after AUTH and SELECT).
    var onConnected: () -> Void = {}
    /// Called on the loop when an established connection is lost.
    var onDisconnected: () -> Void = {}
    /// Called on the loop for each message pushed on a subscription connection: (channel, payload).
    var onPush: (ByteBuffer, ByteBuffer) -> Void = { _, _ in }

    init(address: RedisAddress, isSubscriptionConnection: Bool, eventLoop: EventLoop, logger: Logger) {
        self.address = address
        self.isSubscriptionConnection = isSubscriptionConnection
        self.eventLoop = eventLoop
        self.logger = logger
    }

    var isConnected: Bool { self.handler != nil }

    /// Sends a command; the future fails at once when there is no connection.
    func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        guard let handler = self.handler else {
            return self.eventLoop.makeFailedFuture(RedisConnectionError.notConnected)
        }
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        handler.send(command, promise: promise)
        return promise.futureResult
    }

    /// Connects; the future completes after the first attempt, whatever its
    /// outcome (later attempts go on in the background).
    func start() -> EventLoopFuture<Void> {
        self.connect()
    }

    func stop() -> EventLoopFuture<Void> {
        self.isStopped = true
        self.handler = nil
        guard let channel = self.channel else { return self.eventLoop.makeSucceededVoidFuture() }
        return channel.close().recover { _ in }
    }

    @discardableResult
    private func connect() -> EventLoopFuture<Void> {
        guard !self.isStopped, !self.isConnecting, self.channel == nil else {
            return self.eventLoop.makeSucceededVoidFuture()
        }
        self.isConnecting = true
        let client = NIOLoopBound(self, eventLoop: self.eventLoop)
        let isSubscriptionConnection = self.isSubscriptionConnection
        return ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                let handler = RedisConnectionHandler(
                    isSubscriptionConnection: isSubscriptionConnection,
                    allocator: channel.allocator
                ) { channelName, payload in
                    client.value.onPush(channelName, payload)
                }
                do {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPDecoder()), handler,
                    ])
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: self.address.host, port: self.address.port)
            .flatMap { channel in
                client.value.prepare(channel).map { channel }
            }
            .map { channel in
                client.value.connected(channel)
            }
            .flatMapErrorThrowing { error in
                client.value.connectionFailed(error)
            }
    }

    /// AUTH and SELECT, when the address asks for them.
    private func prepare(_ channel: Channel) -> EventLoopFuture<Void> {
        let handler = try! channel.pipeline.syncOperations.handler(type: RedisConnectionHandler.self)
        var setup: [RESPCommand] = []
        if let password = self.address.password { setup.append(RESPCommand("AUTH", password)) }
        if self.address.database != 0 { setup.append(RESPCommand("SELECT", String(self.address.database))) }
        let replies = setup.map { command in
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            handler.send(command, promise: promise)
            return promise.futureResult
        }
        return EventLoopFuture.whenAllSucceed(replies, on: channel.eventLoop).flatMapThrowing { values in
            for case .error(let message) in values {
                channel.close(promise: nil)
                throw RedisReplyError(message: message)
            }
        }
    }

    private func connected(_ channel: Channel) {
        self.isConnecting = false
        let handler = try! channel.pipeline.syncOperations.handler(type: RedisConnectionHandler.self)
        guard !self.isStopped else {
            channel.close(promise: nil)
            return
        }
        if self.failedAttempts > 0 {
            self.logger.notice("connected to Redis again", metadata: ["redis": "\(self.address)"])
        }
        self.failedAttempts = 0
        self.channel = channel
        self.handler = handler
        let client = NIOLoopBound(self, eventLoop: self.eventLoop)
        channel.closeFuture.whenComplete { _ in client.value.disconnected(channel) }
        self.onConnected()
    }

    private func connectionFailed(_ error: Error) {
        self.isConnecting = false
        if self.failedAttempts == 0 {
            self.logger.warning(
                "cannot reach Redis; retrying",
                metadata: ["redis": "\(self.address)", "error": "\(error)"]
            )
        }
        self.scheduleReconnect()
    }

    private func disconnected(_ channel: Channel) {
        guard self.channel === channel else { return }
        self.channel = nil
        self.handler = nil
        guard !self.isStopped else { return }
        self.logger.warning("lost the Redis connection; reconnecting", metadata: ["redis": "\(self.address)"])
        self.onDisconnected()
        self.scheduleReconnect()
    }

    /// 50 ms, doubling up to 2 s, with jitter so nodes do not reconnect in step.
    private func scheduleReconnect() {
        guard !self.isStopped else { return }
        let base = min(50 << min(self.failedAttempts, 6), 2000)
        self.failedAttempts += 1
        let delay = TimeAmount.milliseconds(Int64(base / 2 + Int.random(in: 0...(base / 2))))
        let client = NIOLoopBound(self, eventLoop: self.eventLoop)
        self.eventLoop.scheduleTask(in: delay) { client.value.connect() }
    }
}

/// Redis answered a command with an error reply.
struct RedisReplyError: Error, CustomStringConvertible {
    let message: String
    var description: String { "Redis: \(self.message)" }
}

@available(*, unavailable)
extension RedisClient: Sendable {}
