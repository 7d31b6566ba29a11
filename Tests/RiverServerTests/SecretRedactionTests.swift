import Foundation
import Logging
import RiverRedisEngine
import RiverTesting
import Testing

@testable import RiverServer

/// Configured secrets never print: not in any printed form of the
/// configuration, and not in the log at `trace` however they were given.
@Suite struct SecretRedactionTests {
    static let publish = "publish-secret-7f3a9c1e5b"
    static let admin = "admin-secret-2d8e4f6a0c"
    static let token = "token-secret-9b1d3f5e7a-0123456789abcdef"
    static let redisPassword = "redis-password-4c6e8a0b2d"

    static var configuration: RiverConfiguration {
        var configuration = RiverConfiguration()
        try! configuration.set("publish_secret", to: Self.publish)
        try! configuration.set("admin_secret", to: Self.admin)
        try! configuration.set("token_secret", to: Self.token)
        try! configuration.set("redis", to: "redis://:\(Self.redisPassword)@127.0.0.1:6379")
        return configuration
    }

    /// Every way Swift prints a value.
    static func printedForms(_ value: Any) -> [String] {
        var dumped = ""
        dump(value, to: &dumped)
        var mirrored = ""
        func walk(_ mirror: Mirror) {
            for child in mirror.children {
                mirrored += "\(child.label ?? "_")=\(child.value) "
                walk(Mirror(reflecting: child.value))
            }
        }
        walk(Mirror(reflecting: value))
        return ["\(value)", String(describing: value), String(reflecting: value), dumped, mirrored]
    }

    @Test func everyPrintedFormIsRedacted() async throws {
        let configuration = Self.configuration
        let service = RiverService(configuration: configuration, logger: Logger(label: "test"))
        let policy = try await AccessPolicy.make(configuration)
        let values: [Any] = [configuration, service, policy, configuration.publishSecret!, configuration.redis]
        for value in values {
            for form in Self.printedForms(value) {
                for secret in [Self.publish, Self.admin, Self.token, Self.redisPassword] {
                    #expect(!form.contains(secret), "\(type(of: value)) printed a secret: \(form)")
                }
            }
        }
        #expect("\(configuration.publishSecret!)" == "<redacted>")
        #expect(String(reflecting: configuration.tokenSecret!) == "<redacted>")
        #expect(Self.printedForms(configuration).allSatisfy { $0.contains("<redacted>") })
        #expect(configuration.publishSecret == Secret(Self.publish))
        #expect(configuration.publishSecret != Secret(Self.publish + String(repeating: "\u{0}", count: 256)))
    }

    /// The real process at `trace`, secrets from a flag, the environment and
    /// the configuration file, requests that present right and wrong ones:
    /// none of them is ever written to the log.
    @Test func theTraceLogNeverHoldsASecret() async throws {
        let path = try temporaryFile("admin_secret \(Self.admin)\nredis redis://:\(Self.redisPassword)@127.0.0.1:1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let river = try await RiverProcess.start(
            [
                "--config", path, "--port", "0", "--threads", "1", "--log-level", "trace", "--publish-secret",
                Self.publish,
            ],
            environment: ["RIVER_TOKEN_SECRET": Self.token]
        )
        let port = river.port
        func request(_ target: String, headers: [String] = []) async throws -> Int {
            try await TestConnection.request(port: port, "GET", target, headers: headers).status
        }
        #expect(try await request("/publish?name=a&data=x&secret=\(Self.publish)") == 200)
        #expect(try await request("/publish?name=a&data=x&secret=\(Self.admin)") == 403)
        #expect(try await request("/stats", headers: ["X-River-Secret: \(Self.publish)"]) == 403)
        #expect(try await request("/stats", headers: ["X-River-Secret: \(Self.admin)"]) == 200)
        #expect(try await request("/publish?name=a&data=x&token=not.a.token") == 403)
        river.signal(SIGTERM)
        #expect(try await river.exited() == 0)
        let log = river.standardError
        #expect(log.contains(" trace ") || log.contains(" debug "), "the log is at trace level")
        #expect(log.contains("access control: publish_secret on, admin_secret on, tokens on"))
        for secret in [Self.publish, Self.admin, Self.token, Self.redisPassword] {
            #expect(!log.contains(secret), "the log holds a secret")
        }
    }
}
