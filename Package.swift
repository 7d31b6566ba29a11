// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "River",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "river", targets: ["river"]),
        .executable(name: "river-bench", targets: ["river-bench"]),
        .library(name: "RiverServer", targets: ["RiverServer"]),
        .library(name: "RiverCore", targets: ["RiverCore"]),
        .library(name: "RiverMemoryEngine", targets: ["RiverMemoryEngine"]),
        .library(name: "RiverRedisEngine", targets: ["RiverRedisEngine"]),
        /// The properties the fuzzer (Fuzz/Sources/RequestFuzzer, scripts/fuzz) checks (the test suite checks them too).
        .library(name: "RiverFuzzing", targets: ["RiverFuzzing"]),
        /// The test kit: River in-process or live, clients for both, child processes. Never linked into `river`.
        .library(name: "RiverTesting", targets: ["RiverTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "RiverCore",
            dependencies: [
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(name: "CRiverSystem"),
        .target(
            name: "RiverMemoryEngine",
            dependencies: [
                "RiverCore",
                "CRiverSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "RiverRedisEngine",
            dependencies: [
                "RiverCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RiverServer",
            dependencies: [
                "RiverCore",
                "RiverMemoryEngine",
                "RiverRedisEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "RiverTesting",
            dependencies: [
                "RiverServer",
                "RiverCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RiverFuzzing",
            dependencies: [
                "RiverServer",
                "RiverTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "river",
            dependencies: [
                "RiverServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "river-bench",
            dependencies: [
                "CRiverSystem",
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "RiverCoreTests",
            dependencies: ["RiverCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "RiverMemoryEngineTests",
            dependencies: [
                "RiverCore", "RiverMemoryEngine", "RiverTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "RiverRedisEngineTests",
            dependencies: [
                "RiverRedisEngine", "RiverCore", "RiverTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EngineConformanceTests",
            dependencies: [
                "RiverCore", "RiverMemoryEngine", "RiverRedisEngine", "RiverTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RiverServerTests",
            dependencies: [
                "RiverServer", "RiverCore", "RiverFuzzing", "RiverRedisEngine", "RiverTesting", "river",
                "river-bench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

// The test targets compile unoptimised in every configuration: what they test (River's modules, `river`) is
// optimised in the test build, their own code mostly waits on it. In the test build's release configuration this
// halves the largest module's compile (RiverServerTests: 75 s to 44 s here) and leaves `swift test` as fast
// (docs/TestTimings.md, "CI under 15 minutes").
for target in package.targets where target.type == .test {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-Onone"])]
}

/// River's own Swift modules, libraries and executables.
let riverModules = [
    "RiverCore", "RiverMemoryEngine", "RiverRedisEngine", "RiverServer", "RiverTesting", "RiverFuzzing", "river",
    "river-bench",
]

// The test build (RIVER_TEST_BUILD=1, set by scripts/test-build-flags): River's modules are compiled for
// `@testable import` with their assertions kept (a connection machine's impossible transition still traps);
// the packages they use are compiled as in any release build (docs/TestTimings.md, "CI under 15 minutes").
if Context.environment["RIVER_TEST_BUILD"] == "1" {
    for target in package.targets where riverModules.contains(target.name) {
        target.swiftSettings =
            (target.swiftSettings ?? []) + [.unsafeFlags(["-enable-testing", "-assert-config", "Debug"])]
    }
}

// The fuzzer (scripts/fuzz, docs/TestTimings.md "The fuzzer in the test build"): with RIVER_FUZZ=1 River's
// own modules get libFuzzer's coverage and the address sanitizer and the `RequestFuzzer` executable joins
// them. Built with the test build's flags in its directory, only River's modules are compiled again: the
// packages they use are compiled once for both.
if Context.environment["RIVER_FUZZ"] == "1" {
    let sanitizers = ["-sanitize=fuzzer,address"]
    for target in package.targets where riverModules.contains(target.name) && !target.name.hasPrefix("river") {
        target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(sanitizers)]
    }
    package.targets.append(
        .executableTarget(
            name: "RequestFuzzer",
            dependencies: ["RiverFuzzing"],
            path: "Fuzz/Sources/RequestFuzzer",
            swiftSettings: [.unsafeFlags(["-parse-as-library"] + sanitizers)],
            linkerSettings: [.unsafeFlags(sanitizers)]
        )
    )
    package.products.append(.executable(name: "RequestFuzzer", targets: ["RequestFuzzer"]))
}
