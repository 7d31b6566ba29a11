import Foundation
import RiverTesting
import Synchronization
import Testing

/// River following a Redis master through Sentinel (Debian's
/// `redis-sentinel`): one master, one replica, one Sentinel.
@Suite struct SentinelFailoverTests: RiverNodeTesting {
    /// What the publisher saw.
    struct Publishing: Sendable {
        var acknowledged: [(seq: Int, data: String)] = []
        var refused = 0
        /// Acknowledged once the master is dead (nil before): the publisher goes on until there are 20.
        var afterKill: Int?
        var unexpected: [String] = []
    }

    /// `Publishing`, shared by the publisher and the test.
    final class PublishingLog: Sendable {
        private let state = Mutex(Publishing())

        func withLock<T: Sendable>(_ body: (inout Publishing) -> T) -> T {
            self.state.withLock { body(&$0) }
        }
    }

    /// The master is killed while a publisher goes on. Publishes answer 503
    /// while Sentinel promotes the replica, then resume on it; with
    /// `redis_wait 1` every acknowledged publish was on the replica first, so
    /// the subscriber (whose stream stays open) receives every one of them,
    /// in order, with the seq it was acknowledged with.
    @Test func aFailoverLosesNoAcknowledgedPublish() async throws {
        try await MachineLoad.exclusively {
            let fastSync = ["--repl-diskless-sync-delay", "0"]  // (replicas sync at once, not after 5 s)
            let master = try await RedisServerProcess.launch(extraArguments: fastSync)
            let replica = try await RedisServerProcess.launch(
                extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(master.port)]
            )
            try await eventually("the replica is in sync", timeout: .seconds(20)) {
                (try? await RedisServerProcess.ask(port: master.port, "INFO", "replication"))?
                    .contains("state=online") == true
            }
            let sentinel = try await RedisSentinelProcess.launch(monitoring: master.port)
            try await eventually("Sentinel knows the replica", timeout: .seconds(20)) {
                (try? await sentinel.knownReplicas()) == 1
            }
            let flags = [
                "--redis-sentinel", sentinel.address, "--redis-master", sentinel.masterName, "--redis-wait", "1",
            ]
            let (a, b) = (
                try await RiverProcess.start(["--engine", "redis", "--threads", "1"] + flags),
                try await RiverProcess.start(["--engine", "redis", "--threads", "1"] + flags)
            )
            try await self.stopping(a, b) {
                let onB = try await self.stream(b, "name=failover")
                let publishing = PublishingLog()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.publish(to: a, recording: publishing) }
                    do {
                        try await eventually("publishing", timeout: .seconds(60)) {
                            publishing.withLock { $0.acknowledged.count } >= 20
                        }
                    } catch {
                        let counts = publishing.withLock {
                            "\($0.acknowledged.count) acknowledged, \($0.refused) refused"
                        }
                        throw TestFailure("\(error); \(counts); the publishing node said:\n\(a.standardError)")
                    }
                    try await master.halt()
                    publishing.withLock { $0.afterKill = 0 }
                    try await eventually("the replica is promoted", timeout: .seconds(30)) {
                        let named = try? await sentinel.currentMasterPort()
                        let failingOver = try? await sentinel.failoverInProgress()
                        return named == replica.port && failingOver == false
                    }
                    // What Sentinel does, sooner: the old master comes back as a replica of the new one.
                    master.extraArguments = fastSync + ["--replicaof", "127.0.0.1", String(replica.port)]
                    try await master.restart()
                    try await group.waitForAll()  // (the publisher ends once 20 were acknowledged after the kill)
                }
                let seen = publishing.withLock { $0 }
                #expect(seen.unexpected.isEmpty, "publishes answered neither 200 nor 503: \(seen.unexpected)")

                let sent = seen.acknowledged
                #expect(seen.afterKill == 20, "publishing resumed on the promoted replica")
                #expect(seen.refused > 0, "publishes were refused during the switch")
                #expect(sent.map(\.seq) == sent.map(\.seq).sorted() && Set(sent.map(\.seq)).count == sent.count)
                var received: [Int: String] = [:]
                while let last = sent.last?.seq, received[last] == nil, let chunk = try await onB.readChunk() {
                    let (seq, data) = try parseMessage(chunk)
                    #expect(received[seq] == nil, "seq \(seq) delivered once")
                    received[seq] = data
                }
                let missed = sent.filter { received[$0.seq] != $0.data }
                let logs = "the subscriber's node said:\n\(b.standardError)\nSentinel said:\n\(sentinel.log)"
                #expect(missed.isEmpty, "acknowledged but not delivered: \(missed)\n\(logs)")
            }
        }
    }

    /// Publishes to `node` until 20 publishes were acknowledged after the
    /// master's death (at most two minutes), recording every answer.
    func publish(to node: RiverProcess, recording publishing: PublishingLog) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        var index = 0
        while (publishing.withLock { $0.afterKill } ?? 0) < 20 && ContinuousClock.now < deadline {
            try Task.checkCancellation()
            index += 1
            let response = try await self.publish(node, "failover", "m\(index)")
            if response.status == 200, let seq = self.seq(of: response) {
                publishing.withLock { seen in
                    seen.acknowledged.append((seq, "m\(index)"))
                    seen.afterKill = seen.afterKill.map { $0 + 1 }
                }
            } else {
                publishing.withLock { seen in
                    if response.status != 503 { seen.unexpected.append("\(response.status) \(response.body)") }
                    seen.refused += 1
                }
                try await Task.sleep(for: .milliseconds(20))  // (pacing: the retry rate while refused)
            }
        }
    }
}
