// swift-tools-version:6.2
import PackageDescription

// Allocation benchmarks (ordo-one/benchmark): `scripts/bench/allocations`,
// or `swift package --package-path Benchmarks benchmark`.
let package = Package(
    name: "RiverBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "River", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "PublishAllocations",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RiverCore", package: "River"),
                .product(name: "RiverMemoryEngine", package: "River"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/PublishAllocations",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RequestParsing",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RiverServer", package: "River"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/RequestParsing",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
