import Foundation
import Testing

/// Tests that load the whole machine — tens of thousands of connections or
/// channels against a `river` process, judged by its memory. Run beside
/// other live tests they starve them (connections refused or cut: "send
/// failed (I/O on closed channel)"), and are starved in turn, so they run
/// in a phase of their own: `scripts/test` runs them after `swift test`,
/// one at a time (`.serialized`), with `RIVER_MACHINE_LOAD_TESTS=1`
/// (`swift test --filter MachineLoadTests`). Without it they are skipped.
/// docs/Testing.md, "Phases".
@Suite(
    .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["RIVER_MACHINE_LOAD_TESTS"] == "1",
        "loads the machine: scripts/test runs it in a phase of its own (RIVER_MACHINE_LOAD_TESTS=1)"
    )
)
enum MachineLoadTests {}
