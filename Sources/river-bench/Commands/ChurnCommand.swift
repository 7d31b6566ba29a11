import ArgumentParser

struct ChurnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "churn",
        abstract:
            "Connections of every transport opened, used and closed at a set rate; the server's RSS per closed connection."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Connections opened per second.") var rate = 2000
    @Option(help: "Seconds to run, at most.") var duration = 30.0
    @Option(help: "Stop after opening this many connections (default: run for --duration).") var connections: Int?
    @Option(help: "Connections open at once, at most.") var concurrency = 64
    @Option(help: "Share of the run before the RSS slope is measured (0 to 1).") var warmup = 0.2
    @Option(help: "The server's process id (repeatable).") var serverPid: [Int32] = []

    func run() async throws {
        guard (0..<1).contains(self.warmup) else { throw ValidationError("--warmup must be in 0..<1") }
        try await self.common.run {
            try await $0.churn(
                rate: self.rate,
                duration: .milliseconds(Int(self.duration * 1000)),
                connections: self.connections,
                concurrency: self.concurrency,
                warmup: self.warmup,
                serverPIDs: self.serverPid
            )
        }
    }
}
