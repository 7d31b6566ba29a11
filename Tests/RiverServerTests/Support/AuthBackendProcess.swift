import Foundation
import NIOCore
import RiverCore
import RiverTesting

@testable import RiverServer

/// `scripts/auth-backend.py`, the application of `auth_url` tests: a real
/// process on 127.0.0.1 and a free port (read from its first line), killed
/// when the test is done with it.
final class AuthBackendProcess {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let process: ChildProcess
    let port: Int

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/auth-backend.py").path
    }

    init() throws {
        self.process = try ChildProcess("/usr/bin/env", ["python3", Self.script], standardOutput: .pipe)
        var output = Data()
        let deadline = Date().addingTimeInterval(10)
        while !output.contains(UInt8(ascii: "\n")) {
            guard Date() < deadline, self.process.isRunning else {
                self.process.signal(SIGKILL)
                throw Failure(description: "auth-backend.py did not start: \(String(decoding: output, as: UTF8.self))")
            }
            output.append(self.process.output!.availableData)
        }
        let line = String(decoding: output, as: UTF8.self).split(separator: "\n")[0]
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            self.process.signal(SIGKILL)
            throw Failure(description: "auth-backend.py said '\(line)'")
        }
        self.port = port
    }

    deinit {
        self.stop()
    }

    /// The URL of one of its behaviours (`decide`, `slow`, `garbage`, `huge`, `deep`, `redirect`, `error`).
    func url(_ path: String = "decide") -> String { "http://127.0.0.1:\(self.port)/\(path)" }

    /// Questions asked so far.
    func count() async throws -> Int {
        let answer = try await self.ask("count")
        guard case .number(let text)? = answer["count"], let count = Int(text) else {
            throw Failure(description: "count: \(answer)")
        }
        return count
    }

    /// The last question, as the backend read it.
    func lastQuestion() async throws -> JSONValue { try await self.ask("last") }

    /// From now on, every question of `user` is refused.
    func revoke(_ user: String) async throws { _ = try await self.ask("revoke?user=\(user)") }

    func stop() {
        self.process.signal(SIGKILL)
        _ = self.process.waitForExit(timeout: 5)
    }

    private func ask(_ route: String) async throws -> JSONValue {
        let transport = HTTPAuthTransport(
            url: "http://127.0.0.1:\(self.port)/control/\(route)",
            timeout: .seconds(5),
            maxConnections: 1
        )
        do {
            let (_, body) = try await transport.post(ByteBuffer(), maxBytes: 1 << 20)
            await transport.shutdown()
            return try JSONParser.parse(body)
        } catch {
            await transport.shutdown()
            throw error
        }
    }
}
