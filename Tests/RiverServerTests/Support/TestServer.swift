import Logging
import NIOCore
import RiverTesting

@testable import RiverServer

/// A real River server on 127.0.0.1 and a free port, for one test.
struct TestServer {
    let server: RiverServer
    var port: Int { self.server.port }

    static func start(
        threads: Int = 2,
        _ configuration: RiverConfiguration = .testing,
        lifetimeObserver: LifetimeObserver? = nil
    ) async throws -> TestServer {
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.threads = threads
        var logger = Logger(label: "river-test")
        logger.logLevel = .warning
        return TestServer(
            server: try await RiverServer.start(
                configuration: configuration,
                logger: logger,
                lifetimeObserver: lifetimeObserver
            )
        )
    }

    func connect() throws -> SocketConnection {
        try SocketConnection(port: self.port)
    }

    func stop() async {
        await self.server.shutdown()
    }
}

/// Runs `body` with a fresh server and always shuts it down.
@discardableResult
func withServer<T>(
    threads: Int = 2,
    _ configuration: RiverConfiguration = .testing,
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try await TestServer.start(threads: threads, configuration)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}
