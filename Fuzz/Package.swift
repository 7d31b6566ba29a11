// swift-tools-version:6.2
import PackageDescription

// libFuzzer target for River's request parsing and parameter decoding.
// Build and run with scripts/fuzz (it passes -sanitize=fuzzer,address).
let package = Package(
    name: "RiverFuzz",
    dependencies: [.package(name: "River", path: "..")],
    targets: [
        .executableTarget(
            name: "RequestFuzzer",
            dependencies: [.product(name: "RiverFuzzing", package: "River")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
