import ArgumentParser
import Foundation
import NIOSSL

/// `river-bench`: River's load generator. Each subcommand is one scenario of
/// the comparison table; `--target nchan` (or the URL template options)
/// points it at another server.
@main
struct RiverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "river-bench",
        abstract: "Load generator for River (and other push servers speaking HTTP).",
        subcommands: [
            BenchCommand.self, FanoutCommand.self, IdleCommand.self, WebSocketEchoCommand.self,
            PublishCommand.self, LatencyCommand.self, ChurnCommand.self, ReferenceServerCommand.self,
            ReportCommand.self, MultiFanoutCommand.self, PresenceChurnCommand.self,
        ]
    )
}

/// Options every scenario shares: where the server is and how to speak to it.
struct CommonOptions: ParsableArguments {
    @Option(help: "Preset: river (port 9271) or nchan (port 9272, scripts/nchan).")
    var target: String = "river"
    @Option(help: "Server address.") var host: String?
    @Option(help: "Server port.") var port: Int?
    @Option(
        help: """
            Multi-node mode: subscribers connect to these ports instead (repeatable, round robin over \
            them) while publishers stay on --port: each message crosses the engine between nodes.
            """
    )
    var subscriberPort: [Int] = []
    @Option(help: "Streaming subscribe path template, e.g. /subscribe?name={channel}.") var subscribePath: String?
    @Option(help: "Extra header for streaming subscribes (repeatable), e.g. 'TE: chunked'.")
    var subscribeHeader: [String] = []
    @Option(help: "SSE subscribe path template.") var ssePath: String?
    @Option(help: "WebSocket path template.") var websocketPath: String?
    @Option(help: "Publish path template.") var publishPath: String?
    @Option(help: "Publish method (GET or POST).") var publishMethod: String?
    @Option(help: "Where the message goes: raw (body), query (data=), form (data= body).") var publishBody: String?
    @Option(help: "Load generator event loops.") var threads = 1
    @Option(help: "Message size in bytes.") var payloadSize = 32
    @Option(help: "fanout, ws-echo: every message is this file's text instead of --payload-size x's.")
    var payloadFile: String?
    @Option(help: "WebSocket messages as river JSON (river) or bodies as published (raw).") var format = "river"
    @Flag(help: "Offer permessage-deflate on WebSocket handshakes (echo clients send compressed frames).")
    var compress = false
    @Option(help: "Speak TLS to the server, trusting this PEM file (its authority, or its certificate file).")
    var tlsCa: String?
    @Flag(help: "Print one JSON line instead of a summary.") var json = false
    @Flag(help: "No live progress line (shown only when standard error is a terminal).") var quiet = false

    /// The text of `--payload-file`, if given.
    func payloadText() throws -> String? {
        try self.payloadFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
    }

    func makeTarget() throws -> Target {
        var target: Target
        switch self.target {
        case "river": target = .river
        case "nchan": target = .nchan
        default: throw ValidationError("--target must be river or nchan")
        }
        if let host { target.host = host }
        if let port { target.port = port }
        target.subscriberPorts = self.subscriberPort
        if let subscribePath { target.streamPath = subscribePath }
        if !self.subscribeHeader.isEmpty { target.streamHeaders = self.subscribeHeader }
        if let ssePath { target.eventStreamPath = ssePath }
        if let websocketPath { target.webSocketPath = websocketPath }
        switch self.format {
        case "river": break
        case "raw": target.webSocketPath += "&format=raw"
        default: throw ValidationError("--format must be river or raw")
        }
        if self.compress {
            target.webSocketHeaders.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
            target.webSocketCompress = true
        }
        if let publishPath { target.publishPath = publishPath }
        if let publishMethod { target.publishMethod = publishMethod.uppercased() }
        if let publishBody {
            guard let placement = Target.BodyPlacement(rawValue: publishBody) else {
                throw ValidationError("--publish-body must be raw, query or form")
            }
            target.publishBody = placement
        }
        return target
    }

    /// The client TLS context of `--tls-ca`: TLS 1.2+, ALPN http/1.1, the
    /// server's certificate checked against the file (its name too: serverHostname nil checks the IP).
    func makeTLSContext() throws -> NIOSSLContext? {
        guard let tlsCa else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(tlsCa))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// Runs `scenario` with a fresh load generator and prints its report.
    func run(_ scenario: (LoadGenerator) async throws -> Report) async throws {
        let generator = try LoadGenerator(
            threads: self.threads,
            target: try self.makeTarget(),
            showProgress: !self.quiet && ProgressLine.standardErrorIsTerminal,
            tls: try self.makeTLSContext()
        )
        do {
            var report = try await scenario(generator)
            if !self.subscriberPort.isEmpty {
                report.add("publisher_port", generator.target.port)
                report.add("subscriber_ports", self.subscriberPort.map(String.init).joined(separator: ","))
            }
            await generator.shutdown()
            report.print(json: self.json)
        } catch {
            await generator.shutdown()
            throw error
        }
    }
}

extension Transport: ExpressibleByArgument {}

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Readers on one channel, writers publishing over a fresh connection each; deliveries per second."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Streaming subscribers.") var readers = 100
    @Option(help: "Concurrent writers.") var writers = 100
    @Option(help: "Stop after this many deliveries.") var messages = 1_000_000
    @Option(help: "stream, longpoll, sse or websocket.") var transport = Transport.stream

    func run() async throws {
        try await self.common.run {
            try await $0.bench(
                readers: self.readers,
                writers: self.writers,
                messages: self.messages,
                transport: self.transport,
                payloadSize: self.common.payloadSize
            )
        }
    }
}

struct FanoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Many subscribers on one channel, publishes back to back; time until every delivery."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Subscribers.") var subscribers = 10_000
    @Option(help: "Publishes.") var publishes = 100
    @Option(help: "Publishes in flight (1: each sent when the previous is answered).") var depth = 1
    @Option(help: "stream, longpoll, sse or websocket.") var transport = Transport.stream
    @Option(help: "The server's process id, to report its CPU time per delivery (repeatable).")
    var serverPid: [Int32] = []

    func run() async throws {
        try await self.common.run {
            try await $0.fanout(
                subscribers: self.subscribers,
                publishes: self.publishes,
                depth: self.depth,
                transport: self.transport,
                payloadSize: self.common.payloadSize,
                payloadText: try self.common.payloadText(),
                serverPIDs: self.serverPid
            )
        }
    }
}

struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Idle streaming subscribers; the server's memory per connection."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Subscribers.") var subscribers = 10_000
    @Option(help: "Channels they spread over.") var channels = 100
    @Option(
        help: """
            Channels each connection carries (one multi-channel subscription, or river.v2 commands on a \
            WebSocket): connection i takes this many of --channels from i mod --channels. Default: one.
            """
    )
    var perConnection: Int?
    @Option(help: "The server's process id (repeatable: master and workers).") var serverPid: [Int32] = []
    @Option(help: "Seconds to let the server settle before each reading.") var settle = 2.0
    @Option(help: "stream, longpoll, sse or websocket.") var transport = Transport.stream

    func run() async throws {
        if let perConnection {
            let plan = try ChannelPlan(connections: self.subscribers, perConnection: perConnection, pool: self.channels)
            return try await self.common.run {
                try await $0.multiIdle(
                    plan: plan,
                    transport: self.transport,
                    serverPIDs: self.serverPid,
                    settle: .milliseconds(Int(self.settle * 1000))
                )
            }
        }
        try await self.common.run {
            try await $0.idle(
                subscribers: self.subscribers,
                channels: self.channels,
                transport: self.transport,
                serverPIDs: self.serverPid,
                settle: .milliseconds(Int(self.settle * 1000))
            )
        }
    }
}

struct WebSocketEchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws-echo",
        abstract: "WebSocket clients publishing to their own channel and receiving it back."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "WebSocket clients.") var clients = 5
    @Option(help: "Messages each client publishes.") var messages = 200_000
    @Option(help: "Messages each client keeps in flight.") var window = 512

    func run() async throws {
        try await self.common.run {
            try await $0.webSocketEcho(
                clients: self.clients,
                messages: self.messages,
                window: self.window,
                payloadSize: self.common.payloadSize,
                payloadText: try self.common.payloadText()
            )
        }
    }
}

struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Keep-alive publishers (like wrk), one subscriber; publishes per second."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Keep-alive publisher connections.") var publishers = 50
    @Option(help: "Requests in flight per connection (1 = no pipelining).") var depth = 1
    @Option(help: "Subscribers listening to each channel.") var subscribers = 1
    @Option(help: "Channels the publishers spread over (connection i publishes to channel i mod this).")
    var channels = 1
    @Option(help: "Seconds to run.") var duration = 10.0

    func validate() throws {
        guard self.channels >= 1 && self.channels <= self.publishers else {
            throw ValidationError("--channels must be between 1 and --publishers")
        }
    }

    func run() async throws {
        try await self.common.run {
            try await $0.publish(
                publishers: self.publishers,
                depth: self.depth,
                subscribers: self.subscribers,
                channels: self.channels,
                duration: .milliseconds(Int(self.duration * 1000)),
                payloadSize: self.common.payloadSize
            )
        }
    }
}

struct LatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency",
        abstract: "Publish-to-delivery latency percentiles at a fixed publish rate."
    )
    @OptionGroup var common: CommonOptions
    @Option(help: "Subscribers on the channel.") var subscribers = 100
    @Option(help: "Publishes per second.") var rate = 1000
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "stream, longpoll, sse or websocket.") var transport = Transport.stream

    func run() async throws {
        try await self.common.run {
            try await $0.latency(
                subscribers: self.subscribers,
                rate: self.rate,
                duration: .milliseconds(Int(self.duration * 1000)),
                transport: self.transport,
                payloadSize: self.common.payloadSize
            )
        }
    }
}
