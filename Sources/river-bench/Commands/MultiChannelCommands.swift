import ArgumentParser

struct MultiFanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multi-fanout",
        abstract: """
            Connections carrying several channels each (a multi-channel stream or SSE stream, or river.v2 \
            commands on one WebSocket; nchan's multiplexed subscriber with --target nchan); publishes spread \
            over the channels; deliveries per second, every connection checked for exactly what it was due.
            """
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Subscriber connections.") var connections = 1000
    @Option(help: "Channels each connection carries.") var perConnection = 20
    @Option(help: "Channels in all (connection i takes --per-connection of them from i mod this).")
    var channels = 1000
    @Option(help: "Publishes, round robin over the channels.") var publishes = 50_000
    @Option(help: "Publishes in flight on the publisher's connection.") var depth = 10
    @Option(help: "stream, sse or websocket.") var transport = Transport.stream
    @Option(help: "The server's process id, to report its CPU time per delivery (repeatable).")
    var serverPid: [Int32] = []
    @Option(help: "Seconds without a delivery after which the missing ones count as lost.") var stall = 10.0

    func validate() throws {
        guard self.transport != .longPoll else {
            throw ValidationError("multi-fanout runs over stream, sse or websocket")
        }
        guard self.publishes >= 1, self.depth >= 1 else {
            throw ValidationError("--publishes and --depth must be >= 1")
        }
    }

    func run() async throws {
        let plan = try ChannelPlan(
            connections: self.connections,
            perConnection: self.perConnection,
            pool: self.channels
        )
        try await self.common.run {
            try await $0.multiFanout(
                plan: plan,
                publishes: self.publishes,
                depth: self.depth,
                transport: self.transport,
                payloadSize: self.common.payloadSize,
                serverPIDs: self.serverPid,
                stall: .milliseconds(Int(self.stall * 1000))
            )
        }
    }
}

struct PresenceChurnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence-churn",
        abstract: """
            river.v2 clients joining and leaving presence channels, watchers receiving every join and leave; \
            joins and leaves per second, the server's CPU and memory. The server needs \
            presence_self_names on, presence_leave_delay 0 and a high max_commands_per_second in its --config.
            """
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Presence channels.") var channels = 10
    @Option(help: "Watchers, each on every channel with presence events.") var watchers = 1
    @Option(help: "Churning clients (river.v2 WebSockets, one user each).") var clients = 100
    @Option(help: "Joins in all (each followed by its leave).") var joins = 200_000
    @Option(help: "Joins per second in all (default: as fast as the server answers).") var rate: Int?
    @Option(help: "The server's process id, for its CPU time and memory (repeatable).") var serverPid: [Int32] = []
    @Option(help: "Seconds to let the server settle before the last memory reading.") var settle = 1.0

    func validate() throws {
        guard self.channels >= 1, self.watchers >= 0 else { throw ValidationError("--channels >= 1, --watchers >= 0") }
        guard self.clients >= 1, self.joins >= self.clients else {
            throw ValidationError("need 1 <= --clients <= --joins")
        }
        if let rate = self.rate, rate < 1 { throw ValidationError("--rate must be >= 1") }
    }

    func run() async throws {
        try await self.common.run {
            try await $0.presenceChurn(
                channels: self.channels,
                watchers: self.watchers,
                clients: self.clients,
                joins: self.joins,
                rate: self.rate,
                serverPIDs: self.serverPid,
                settle: .milliseconds(Int(self.settle * 1000))
            )
        }
    }
}
