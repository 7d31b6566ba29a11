import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Follows one master through Redis Sentinel: asks the Sentinels (any that
/// answers) for the master's address, listens for `+switch-master` and asks
/// again every second and whenever a connection finds the named master to be
/// a replica. When the master moves, every registered listener is told, so
/// the shard's connections reconnect to the new master at once. Each poll
/// also reads Sentinel's flags for the master, so `/stats` can tell a shard
/// that Sentinel is failing over ("switching") from one that is just down.
///
/// One per shard per node; its two Sentinel connections live on one event
/// loop, `master` can be read from any.
final class SentinelWatcher: Sendable, CustomStringConvertible {
    let masterName: String
    private let sentinels: [RedisAddress]
    private let eventLoop: EventLoop
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let links: NIOLoopBoundBox<Links?>

    private struct State {
        var master: RedisAddress?
        var verdict = Verdict.serving
        var listeners: [@Sendable (RedisAddress) -> Void] = []
    }

    private struct Links {
        let commands: RedisClient
        let switches: RedisClient
        let poll: RepeatedTask
    }

    init(masterName: String, sentinels: [RedisAddress], eventLoop: EventLoop, logger: Logger) {
        self.masterName = masterName
        self.sentinels = sentinels
        self.eventLoop = eventLoop
        self.logger = logger
        self.links = .makeEmptyBox(valueType: Links.self, eventLoop: eventLoop)
    }

    /// The master's address as last named by Sentinel.
    var master: RedisAddress? { self.state.withLockedValue { $0.master } }

    /// What Sentinel said of the master at its last poll (`SENTINEL master NAME`).
    enum Verdict: Sendable {
        /// Not flagged down.
        case serving
        /// Flagged `o_down` or `failover_in_progress`, with at least one replica to promote.
        case failingOver
        /// Flagged down, and Sentinel knows no replica of it: nothing will take over.
        case downWithoutReplica
    }

    var verdict: Verdict { self.state.withLockedValue { $0.verdict } }

    var description: String { "Sentinel master \(self.masterName)" }

    /// Calls `listener` (on any thread) with the new address whenever the master moves.
    func onSwitch(_ listener: @escaping @Sendable (RedisAddress) -> Void) {
        self.state.withLockedValue { $0.listeners.append(listener) }
    }

    /// Connects to the Sentinels; the future completes once the master is
    /// known or after `patience`, whichever comes first.
    func start(patience: TimeAmount = .seconds(3)) -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            let commands = RedisClient(
                target: .anyOf(self.sentinels),
                isSubscriptionConnection: false,
                eventLoop: self.eventLoop,
                logger: self.logger
            )
            let switches = RedisClient(
                target: .anyOf(self.sentinels),
                isSubscriptionConnection: true,
                eventLoop: self.eventLoop,
                logger: self.logger
            )
            commands.onConnected = { self.refresh() }
            switches.onConnected = { [unowned switches] in
                switches.send(RESPCommand("SUBSCRIBE", "+switch-master")) { _ in }
                self.refresh()
            }
            switches.onPush = { _, payload in self.switched(payload) }
            let poll = self.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
                self.refresh()
            }
            self.links.value = Links(commands: commands, switches: switches, poll: poll)
            let known = self.eventLoop.makePromise(of: Void.self)
            self.succeed(known, onceKnownBy: .now() + patience)
            return commands.start().and(switches.start()).flatMap { _ in known.futureResult }
        }
    }

    private func succeed(_ promise: EventLoopPromise<Void>, onceKnownBy deadline: NIODeadline) {
        guard self.master == nil, NIODeadline.now() < deadline else {
            promise.succeed()
            return
        }
        self.eventLoop.scheduleTask(in: .milliseconds(20)) { self.succeed(promise, onceKnownBy: deadline) }
    }

    func stop() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            guard let links = self.links.value else { return self.eventLoop.makeSucceededVoidFuture() }
            self.links.value = nil
            links.poll.cancel()
            return links.commands.stop().and(links.switches.stop()).map { _ in }
        }
    }

    /// Asks a Sentinel where the master is now.
    func refresh() {
        self.eventLoop.execute {
            guard let commands = self.links.value?.commands, commands.isConnected else { return }
            commands.send(RESPCommand("SENTINEL", "get-master-addr-by-name", self.masterName)) { result in
                guard case .success(let reply) = result else { return }
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string,
                    let port = parts[1].integer, (1...65535).contains(port)
                else {
                    self.logger.error(
                        "Sentinel does not know this master",
                        metadata: ["master": "\(self.masterName)", "reply": "\(reply)"]
                    )
                    return
                }
                self.setMaster(RedisAddress(host: host, port: Int(port)))
            }
            commands.send(RESPCommand("SENTINEL", "master", self.masterName)) { result in
                guard case .success(let reply) = result, let fields = reply.array else { return }
                func field(_ name: String) -> String? {
                    stride(from: 0, to: fields.count - 1, by: 2).first { fields[$0].string == name }
                        .flatMap { fields[$0 + 1].string }
                }
                let flags = field("flags")?.split(separator: ",") ?? []
                let replicas = field("num-slaves").flatMap { Int($0) } ?? 0
                let verdict: Verdict =
                    !(flags.contains("o_down") || flags.contains("failover_in_progress"))
                    ? .serving : replicas > 0 ? .failingOver : .downWithoutReplica
                self.state.withLockedValue { $0.verdict = verdict }
            }
        }
    }

    /// `+switch-master NAME OLD-IP OLD-PORT NEW-IP NEW-PORT`.
    private func switched(_ payload: ByteBuffer) {
        let fields = String(buffer: payload).split(separator: " ")
        guard fields.count == 5, fields[0].utf8.elementsEqual(self.masterName.utf8),
            let port = Int(fields[4]), (1...65535).contains(port)
        else { return }
        self.setMaster(RedisAddress(host: String(fields[3]), port: port))
    }

    private func setMaster(_ address: RedisAddress) {
        let listeners: [@Sendable (RedisAddress) -> Void] = self.state.withLockedValue { state in
            guard state.master != address else { return [] }
            state.master = address
            return state.listeners
        }
        guard !listeners.isEmpty else { return }
        self.logger.notice("Redis master located", metadata: ["master": "\(self.masterName)", "redis": "\(address)"])
        for listener in listeners { listener(address) }
    }
}
