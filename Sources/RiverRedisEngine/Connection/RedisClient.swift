import Logging
import NIOCore
import NIOPosix

/// A connection to Redis owned by one event loop and re-established, with
/// backoff, whenever it drops. A command sent while it is down fails at once
/// (River answers 503) rather than waiting in a queue.
///
/// A subscription client (`isSubscriptionConnection`) carries SUBSCRIBE and
/// UNSUBSCRIBE and hands the messages Redis pushes to `onPush`. Where it
/// connects is its `RedisTarget`: a fixed address, the next of several (the
/// Sentinels), or the master a `SentinelWatcher` names — then the connection
/// is used only once Redis confirms with `ROLE` that it is the master.
final class RedisClient {
    let eventLoop: EventLoop
    let target: RedisTarget
    private let isSubscriptionConnection: Bool
    private let loadsScripts: Bool
    private let logger: Logger
    private(set) var handler: RedisConnectionHandler?
    private(set) var channel: Channel?
    /// The address of the current connection.
    private(set) var connectedAddress: RedisAddress?
    private var failedAttempts = 0
    private var attempts = 0
    private var isStopped = false
    private var isConnecting = false

    /// Called on the loop once a connection is ready (after AUTH, SELECT and ROLE).
    var onConnected: () -> Void = {}
    /// Connections made after the first (`/stats`: each shard's reconnects).
    private(set) var reconnects = 0
    private var hasConnected = false
    /// Called on the loop when an established connection is lost.
    var onDisconnected: () -> Void = {}
    /// Called on the loop for each message pushed on a subscription connection: (channel, payload).
    var onPush: (ByteBuffer, ByteBuffer) -> Void = { _, _ in }

    /// `loadsScripts`: a command connection to a Redis server (not to a Sentinel) loads
    /// River's scripts before anything else it carries.
    init(
        target: RedisTarget,
        isSubscriptionConnection: Bool,
        loadsScripts: Bool = false,
        eventLoop: EventLoop,
        logger: Logger
    ) {
        self.target = target
        self.isSubscriptionConnection = isSubscriptionConnection
        self.loadsScripts = loadsScripts && !isSubscriptionConnection
        self.eventLoop = eventLoop
        self.logger = logger
    }

    var isConnected: Bool { self.handler != nil }

    /// Sends a command; `reply` is called on the loop, at once with a failure when there is no connection.
    func send(_ command: RESPCommand, reply: @escaping RedisConnectionHandler.Reply) {
        guard let handler = self.handler else {
            reply(.failure(RedisConnectionError.notConnected))
            return
        }
        handler.send(command, reply: reply)
    }

    /// Sends a command; the future fails at once when there is no connection.
    func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        self.send(command) { promise.completeWith($0) }
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

    /// Closes the connection if Redis has answered nothing for `timeout` while replies are awaited.
    func checkStalled(now: NIODeadline, timeout: TimeAmount) {
        self.handler?.checkStalled(now: now, timeout: timeout)
    }

    /// Drops the connection unless it is to `address` (the master moved): the
    /// client reconnects at once, wherever its target points now.
    func reconnect(unlessConnectedTo address: RedisAddress?) {
        guard !self.isStopped, self.connectedAddress != address || self.channel == nil else { return }
        self.failedAttempts = 0
        if let channel = self.channel {
            channel.close(promise: nil)  // (`disconnected` schedules the next attempt)
        } else {
            self.connect()
        }
    }

    @discardableResult
    private func connect() -> EventLoopFuture<Void> {
        guard !self.isStopped, !self.isConnecting, self.channel == nil else {
            return self.eventLoop.makeSucceededVoidFuture()
        }
        self.attempts += 1
        guard let address = self.target.address(attempt: self.attempts) else {
            self.connectionFailed(RedisConnectionError.failed("Sentinel has not named a master yet"))
            return self.eventLoop.makeSucceededVoidFuture()
        }
        self.isConnecting = true
        let client = NIOLoopBound(self, eventLoop: self.eventLoop)
        let isSubscriptionConnection = self.isSubscriptionConnection
        return ClientBootstrap(group: self.eventLoop)
            .connectTimeout(.seconds(2))
            .channelOption(.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
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
            .connect(host: address.host, port: address.port)
            .flatMap { channel in
                client.value.prepare(channel, address: address).map { channel }
            }
            .map { channel in
                client.value.connected(channel, address: address)
            }
            .flatMapErrorThrowing { error in
                client.value.connectionFailed(error)
            }
    }

    /// AUTH and SELECT when the address asks for them, the scripts on a command connection;
    /// ROLE when the target must be a master.
    private func prepare(_ channel: Channel, address: RedisAddress) -> EventLoopFuture<Void> {
        let handler = try! channel.pipeline.syncOperations.handler(type: RedisConnectionHandler.self)
        var setup: [RESPCommand] = []
        if let password = address.password { setup.append(RESPCommand("AUTH", password)) }
        if address.database != 0 { setup.append(RESPCommand("SELECT", String(address.database))) }
        if self.loadsScripts {
            setup += RedisScripts.all.map { RESPCommand("SCRIPT", "LOAD", $0.source) }
        }
        let checksRole = self.target.mustBeMaster
        if checksRole { setup.append(RESPCommand("ROLE")) }
        let replies = setup.map { command in
            let promise = channel.eventLoop.makePromise(of: RESPValue.self)
            handler.send(command) { promise.completeWith($0) }
            return promise.futureResult
        }
        let target = self.target
        return EventLoopFuture.whenAllSucceed(replies, on: channel.eventLoop).flatMapThrowing { values in
            for case .error(let message) in values {
                channel.close(promise: nil)
                throw RedisReplyError(message: message)
            }
            if checksRole, let role = values.last?.array?.first?.string, role != "master" {
                channel.close(promise: nil)
                target.masterIsStale()
                throw RedisConnectionError.failed("\(address) is a \(role), not the master")
            }
        }
    }

    private func connected(_ channel: Channel, address: RedisAddress) {
        self.isConnecting = false
        let handler = try! channel.pipeline.syncOperations.handler(type: RedisConnectionHandler.self)
        guard !self.isStopped else {
            channel.close(promise: nil)
            return
        }
        if self.failedAttempts > 0 {
            self.logger.notice("connected to Redis again", metadata: ["redis": "\(address)"])
        }
        if self.hasConnected { self.reconnects += 1 }
        self.hasConnected = true
        self.failedAttempts = 0
        self.channel = channel
        self.handler = handler
        self.connectedAddress = address
        let client = NIOLoopBound(self, eventLoop: self.eventLoop)
        channel.closeFuture.whenComplete { _ in client.value.disconnected(channel) }
        self.onConnected()
    }

    private func connectionFailed(_ error: Error) {
        self.isConnecting = false
        if self.failedAttempts == 0 {
            self.logger.warning(
                "cannot reach Redis; retrying",
                metadata: ["redis": "\(self.target)", "error": "\(error)"]
            )
        }
        self.scheduleReconnect()
    }

    private func disconnected(_ channel: Channel) {
        guard self.channel === channel else { return }
        self.channel = nil
        self.handler = nil
        self.connectedAddress = nil
        guard !self.isStopped else { return }
        self.logger.warning("lost the Redis connection; reconnecting", metadata: ["redis": "\(self.target)"])
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
