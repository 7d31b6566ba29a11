import Logging
import ServiceLifecycle

/// River as a `Service`: starts the server, runs until a graceful shutdown
/// (SIGTERM or SIGINT under a `ServiceGroup`), then shuts it down cleanly.
public struct RiverService: Service {
    public let configuration: RiverConfiguration
    public let logger: Logger

    public init(configuration: RiverConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let server = try await RiverServer.start(configuration: self.configuration, logger: self.logger)
        try? await gracefulShutdown()
        self.logger.info("shutting down: no new connections, ending streams")
        await server.shutdown()
    }
}
