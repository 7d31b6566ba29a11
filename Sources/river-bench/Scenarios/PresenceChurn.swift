import Atomics
import Foundation
import NIOCore

/// Presence churn (PROTOCOL.md C3): clients joining and leaving presence
/// channels while watchers receive every join and leave.
extension LoadGenerator {
    /// `presence-churn`: `watchers` `river.v2` WebSockets subscribed with
    /// `"presence": true` to each of `channels` channels; then `clients`
    /// `river.v2` WebSockets, each a self-named user (`presence_self_names`),
    /// join a channel and leave it again, channel after channel, `joins`
    /// times in all (paced to `rate` joins a second when given). The run ends
    /// when every watcher has every join and leave, or none has arrived for
    /// `stall`. Figures: joins and leaves per second, the events the watchers
    /// got, the server's CPU per join and leave, its memory before and after,
    /// and what `GET /presence` says once the clients are gone.
    ///
    /// The server needs `presence_self_names on`, `presence_leave_delay 0`
    /// (else each leave waits the delay) and a `max_commands_per_second`
    /// above what one client sends (keys of its `--config` file).
    func presenceChurn(
        channels channelCount: Int,
        watchers: Int,
        clients: Int,
        joins: Int,
        rate: Int?,
        serverPIDs: [Int32],
        settle: Duration,
        stall: Duration = .seconds(10)
    ) async throws -> Report {
        guard clients >= 1, joins >= clients else { throw BenchError("presence-churn needs 1 <= clients <= joins") }
        let names = (0..<channelCount).map { self.channelName($0) }
        let plan = try ChannelPlan(connections: watchers, perConnection: channelCount, pool: channelCount)
        let watching = try await self.subscribe(
            plan: plan,
            transport: .webSocket,
            names: names,
            fields: ", \"presence\": true"
        )
        _ = try await self.presenceTotals(names)  // (warms the route before the first reading)
        let rssBefore = serverPIDs.isEmpty ? 0 : try Self.residentBytes(serverPIDs)
        let cpuBefore = try Self.cpuSeconds(serverPIDs)

        let expectedEvents = joins * watchers
        let interval = rate.map { TimeAmount.nanoseconds(Int64(1_000_000_000) * Int64(clients) / Int64(max($0, 1))) }
        let handshake = self.target.commandHandshake()
        let finished = ManagedAtomic(0)
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<clients {
            let cycles = joins / clients + (index < joins % clients ? 1 : 0)
            let loop = self.group.next()
            let done = loop.makePromise(of: Void.self)
            done.futureResult.whenComplete { _ in finished.wrappingIncrement(ordering: .relaxed) }
            let user = "u\(self.runID)-\(index)"
            self.connect(on: loop) { _ in
                PresenceChurnHandler(
                    handshake: handshake,
                    user: user,
                    channels: names,
                    first: index,
                    cycles: cycles,
                    interval: interval,
                    tally: self.tally,
                    done: done
                )
            }.whenFailure { _ in
                self.tally.failed.wrappingIncrement(ordering: .relaxed)
                done.succeed()
            }
        }
        let events = { self.tally.joins.load(ordering: .relaxed) + self.tally.leaves.load(ordering: .relaxed) }
        var progress = (count: 0, at: start)
        var clientsDoneAt: ContinuousClock.Instant?
        let timeline = try await self.wait(
            "presence-churn",
            timeout: .seconds(600),
            since: start,
            until: {
                let count = events()
                if count != progress.count { progress = (count, clock.now) }
                if clientsDoneAt == nil && finished.load(ordering: .relaxed) >= clients { clientsDoneAt = clock.now }
                guard let clientsDoneAt else { return false }
                if self.tally.failed.load(ordering: .relaxed) > 0 { return true }
                return count >= 2 * expectedEvents || clock.now - max(progress.at, clientsDoneAt) > stall
            },
            counting: Meter("joins", of: joins, from: 0) { self.tally.cycles.load(ordering: .relaxed) }
        )
        let failed = self.tally.failed.load(ordering: .relaxed)
        guard failed == 0 else {
            throw BenchError(
                "\(failed) of \(clients) presence clients failed (presence_self_names on? max_commands_per_second high enough?)"
            )
        }
        let delivered = events()
        let elapsed = max(progress.at, clientsDoneAt ?? clock.now) - start
        let cpu = try Self.cpuSeconds(serverPIDs) - cpuBefore
        let cycles = self.tally.cycles.load(ordering: .relaxed)
        let rssAfterChurn = serverPIDs.isEmpty ? 0 : try Self.residentBytes(serverPIDs)
        try await Task.sleep(for: settle)  // pacing: the server settles before the last reading
        let rssSettled = serverPIDs.isEmpty ? 0 : try Self.residentBytes(serverPIDs)
        let left = try await self.presenceTotals(names)
        self.tally.stop.store(true, ordering: .relaxed)
        try await Self.close(watching)

        var report = Report(scenario: "presence-churn")
        report.add("channels", channelCount)
        report.add("watchers", watchers)
        report.add("clients", clients)
        report.add("joins", cycles)
        report.add("seconds", elapsed.seconds)
        report.add("joins_per_second", Double(cycles) / elapsed.seconds)
        report.add("joins_and_leaves_per_second", Double(2 * cycles) / elapsed.seconds)
        report.add("events_expected", 2 * expectedEvents)
        report.add("joins_delivered", self.tally.joins.load(ordering: .relaxed))
        report.add("leaves_delivered", self.tally.leaves.load(ordering: .relaxed))
        report.add("events_lost", max(0, 2 * expectedEvents - delivered))
        report.add("events_delivered_per_second", Double(delivered) / elapsed.seconds)
        if !serverPIDs.isEmpty {
            report.add("server_cpu_seconds", cpu)
            report.add("server_cpu_us_per_join_and_leave", cpu * 1_000_000 / Double(max(cycles, 1)))
            report.add("server_rss_before_bytes", rssBefore)
            report.add("server_rss_after_churn_bytes", rssAfterChurn)
            report.add("server_rss_settled_bytes", rssSettled)
            report.add("rss_growth_bytes", rssSettled - rssBefore)
        }
        report.add("presence_users_after", left.users)
        report.add("presence_connections_after", left.connections)
        report.add("failed", failed)
        report.timeline = timeline
        return report
    }

    /// `GET /presence` of every channel in `names`, users and connections summed.
    func presenceTotals(_ names: [String]) async throws -> (users: Int, connections: Int) {
        var totals = (users: 0, connections: 0)
        for name in names {
            let request = ByteBuffer(
                string: "GET /presence?name=\(name.formEncoded) HTTP/1.1\r\nHost: \(self.target.host)\r\n\r\n"
            )
            let loop = self.publisherLoop
            let answer = loop.makePromise(of: [UInt8]?.self)
            _ = try await self.connect(on: loop) { _ in OneRequestHandler(request: request, answer: answer) }.get()
            guard let body = try await answer.futureResult.get(),
                let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let users = object["users"] as? Int, let connections = object["connections"] as? Int
            else { throw BenchError("GET /presence?name=\(name) gave no presence") }
            totals.users += users
            totals.connections += connections
        }
        return totals
    }
}
