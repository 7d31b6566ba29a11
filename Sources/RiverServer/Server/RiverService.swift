import Logging
import ServiceLifecycle
import UnixSignals

/// River as a `Service`: starts the server, runs until a graceful shutdown
/// (SIGTERM or SIGINT under a `ServiceGroup`), then shuts it down cleanly.
/// With TLS, SIGHUP reloads the certificate and key
/// (`RiverServer.reloadCertificates()`); without it, SIGHUP keeps its default.
public struct RiverService: Service {
    public let configuration: RiverConfiguration
    public let logger: Logger

    public init(configuration: RiverConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        // Trapped before the start-up line, so a SIGHUP sent once River says it
        // listens reloads instead of ending the process.
        let reloadSignals =
            self.configuration.tlsCertificate == nil ? nil : await UnixSignalsSequence(trapping: .sighup)
        let server = try await RiverServer.start(configuration: self.configuration, logger: self.logger)
        await withTaskGroup(of: Void.self) { group in
            if let reloadSignals {
                group.addTask {
                    for await _ in reloadSignals {
                        server.reloadCertificates()
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        self.logger.info("shutting down: no new connections, ending streams")
        await server.shutdown()
    }
}
