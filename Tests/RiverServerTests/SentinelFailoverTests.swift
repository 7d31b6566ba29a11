import Foundation
import RiverTesting
import Synchronization
import Testing

/// River following a Redis master through Sentinel (Debian's
/// `redis-sentinel`): one master, one replica, one Sentinel.
@Suite struct SentinelFailoverTests: RiverNodeTesting {
    /// The master is killed while a publisher goes on. Publishes answer 503
    /// while Sentinel promotes the replica, then resume on it; with
    /// `redis_wait 1` every acknowledged publish was on the replica first, so
    /// the subscriber (whose stream stays open) receives every one of them,
    /// in order, with the seq it was acknowledged with.
    @Test func aFailoverLosesNoAcknowledgedPublish() async throws {
        try await MachineLoad.exclusively {
            let fastSync = ["--repl-diskless-sync-delay", "0"]  // (replicas sync at once, not after 5 s)
            let master = try RedisServerProcess(extraArguments: fastSync)
            let replica = try RedisServerProcess(
                extraArguments: fastSync + ["--replicaof", "127.0.0.1", String(master.port)]
            )
            try await self.eventually("the replica is in sync", seconds: 20) {
                try RedisServerProcess.command(port: master.port, "INFO", "replication").contains("state=online")
            }
            let sentinel = try RedisSentinelProcess(monitoring: master.port)
            try await self.eventually("Sentinel knows the replica", seconds: 20) { try sentinel.replicaCount() == 1 }
            let flags = [
                "--redis-sentinel", sentinel.address, "--redis-master", sentinel.masterName, "--redis-wait", "1",
            ]
            let (a, b) = (
                try RiverProcess(["--engine", "redis", "--threads", "2"] + flags),
                try RiverProcess(["--engine", "redis", "--threads", "2"] + flags)
            )
            defer { self.stop(a, b) }
            let onB = try self.stream(b, "name=failover")

            let acknowledged = Mutex<[(seq: Int, data: String)]>([])
            let refused = Mutex(0)
            /// Acknowledged once the master is dead: the publisher goes on until there are 20.
            let afterKill = Mutex<Int?>(nil)
            let port = a.port
            // A thread of its own: the suite's other tests block the cooperative pool's
            // threads on sockets for seconds at a time, and a task could wait behind them.
            let publisherEnded = Mutex<Result<Void, any Error>?>(nil)
            let unexpected = Mutex<[String]>([])
            let publisher = Thread {
                let deadline = Date().addingTimeInterval(120)
                var index = 0
                do {
                    while (afterKill.withLock { $0 } ?? 0) < 20 && Date() < deadline {
                        index += 1
                        let response = try httpRequest(port: port, "GET", "/publish?name=failover&data=m\(index)")
                        if response.status == 200, let seq = self.seq(of: response) {
                            acknowledged.withLock { $0.append((seq, "m\(index)")) }
                            afterKill.withLock { count in count = count.map { $0 + 1 } }
                        } else {
                            if response.status != 503 { unexpected.withLock { $0.append("\(response.status) \(response.body)") } }
                            refused.withLock { $0 += 1 }
                            Thread.sleep(forTimeInterval: 0.02)
                        }
                    }
                    publisherEnded.withLock { $0 = .success(()) }
                } catch {
                    publisherEnded.withLock { $0 = .failure(error) }
                }
            }
            publisher.start()
            do {
                try await self.eventually("publishing", seconds: 60) { acknowledged.withLock { $0.count } >= 20 }
            } catch {
                let counts = "\(acknowledged.withLock { $0.count }) acknowledged, \(refused.withLock { $0 }) refused"
                throw SocketConnection.Failure(description: "\(error); \(counts); the publishing node said:\n\(a.standardError)")
            }
            master.stop()
            afterKill.withLock { $0 = 0 }
            try await self.eventually("the replica is promoted", seconds: 30) {
                try sentinel.masterPort() == replica.port && !sentinel.isFailingOver()
            }
            // What Sentinel does, sooner: the old master comes back as a replica of the new one.
            master.extraArguments = fastSync + ["--replicaof", "127.0.0.1", String(replica.port)]
            try master.start()
            try await self.eventually("the publisher ends", seconds: 130) { publisherEnded.withLock { $0 != nil } }
            try publisherEnded.withLock { $0 }?.get()
            #expect(unexpected.withLock { $0 }.isEmpty, "publishes answered neither 200 nor 503")

            let sent = acknowledged.withLock { $0 }
            #expect(afterKill.withLock { $0 } == 20, "publishing resumed on the promoted replica")
            #expect(refused.withLock { $0 } > 0, "publishes were refused during the switch")
            #expect(sent.map(\.seq) == sent.map(\.seq).sorted() && Set(sent.map(\.seq)).count == sent.count)
            var received: [Int: String] = [:]
            onB.setReadTimeout(10)
            while let last = sent.last?.seq, received[last] == nil, let chunk = try onB.readChunk() {
                let (seq, data) = try parseMessage(chunk)
                #expect(received[seq] == nil, "seq \(seq) delivered once")
                received[seq] = data
            }
            let missed = sent.filter { received[$0.seq] != $0.data }
            let logs = "the subscriber's node said:\n\(b.standardError)\nSentinel said:\n\(sentinel.log)"
            #expect(missed.isEmpty, "acknowledged but not delivered: \(missed)\n\(logs)")
        }
    }

    func eventually(
        _ what: String,
        seconds: Double = 5,
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let late = Date() >= deadline  // (checked once more after it: a busy pool can run this late)
            if (try? await condition()) == true { return }
            if late { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SocketConnection.Failure(description: "not within \(seconds) s: \(what)")
    }
}
