import Foundation
import RiverTesting
import Testing

/// Autobahn's WebSocket conformance cases, driven by kosoku (a Python
/// package `scripts/test` installs in `.build-autobahn/venv`), against a
/// `river` process at `/websocket?name=autobahn-N&format=raw`: the sender of
/// a message is a subscriber too, so every message comes back as published —
/// Autobahn's echo. Sections 1–7, 9, 10, 12 and 13, split between
/// `RIVER_AUTOBAHN_JOBS` kosoku processes (default 3), each one case at a time
/// on its own channel N; the step fails with the list of cases whose verdict
/// is not OK, NON-STRICT or INFORMATIONAL. `scripts/autobahn/run.py` prints
/// the summary per section (docs/AUTOBAHN.md keeps the last one, and why
/// this arrangement).
///
/// The `river` is `RIVER_AUTOBAHN_RIVER` — `scripts/test` builds a release
/// one, which runs sections 12 and 13 (permessage-deflate) in a fraction of
/// the debug build's time — or else the debug build next to the test bundle.
/// It runs with what the cases need: messages up to 20 MiB (section 9 sends
/// 16 MiB), a 256 MiB subscriber backlog (an echo of 16 MiB messages waits in
/// it), history of one message per channel (the echo needs none).
@Suite struct AutobahnTests {
    static let environment = ProcessInfo.processInfo.environment
    /// The Python that has kosoku, as `scripts/test` sets it up.
    static let python = Self.environment["RIVER_AUTOBAHN_PYTHON"]
    /// An optimised `river` (`scripts/test`: `swift build -c release --product river`).
    static let river = Self.environment["RIVER_AUTOBAHN_RIVER"].map { URL(fileURLWithPath: $0) }
    /// How many kosoku processes run the cases side by side.
    static let jobs = Self.environment["RIVER_AUTOBAHN_JOBS"].flatMap { Int($0) } ?? 3
    /// When `run.py` is killed: several times a release run on the loaded
    /// 2-core machine (docs/AUTOBAHN.md), about twice a debug one.
    static let deadline: Duration = Self.river == nil ? .seconds(28 * 60) : .seconds(15 * 60)

    /// `scripts/test` runs this in a phase of its own, after the rest of the suite.
    @Test(
        .enabled(if: Self.python != nil, "RIVER_AUTOBAHN_PYTHON unset: run scripts/test, which installs kosoku"),
        .timeLimit(.minutes(30))
    )
    func everyCaseIsOKNonStrictOrInformational() async throws {
        let river = try await RiverProcess.start(
            [
                "--max-message-size", "20m", "--max-subscriber-backlog", "256m", "--history-size", "1",
                "--max-memory", "1g",
            ],
            executable: Self.river ?? RiverProcess.executable
        )
        let url = "ws://127.0.0.1:\(river.port)/websocket?name=autobahn-{job}&format=raw"
        let status: Int32
        let output: String
        do {
            (status, output) = try await Self.runCases(url: url, jobs: Self.jobs)
        } catch {
            try? await river.stop()
            throw error
        }
        river.signal(SIGTERM)
        let exit = try await river.exited()
        if exit == nil { try await river.stop() }
        print("Autobahn: \(Self.jobs) jobs against \(Self.river?.path ?? "the debug river") on \(url)\n\(output)")
        #expect(status == 0, "Autobahn cases failed:\n\(output)")
        #expect(exit == 0, "river did not stop cleanly (\(exit.map(String.init) ?? "killed")):\n\(river.standardError)")
    }

    /// Runs `scripts/autobahn/run.py`; its exit status and output. Killed
    /// (by its process id; its jobs die with it) if it runs past `deadline`.
    static func runCases(url: String, jobs: Int) async throws -> (Int32, String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let process = try ChildProcess(
            try #require(Self.python),
            [
                root.appendingPathComponent("scripts/autobahn/run.py").path, url, "--jobs", "\(jobs)",
                "--summary", root.appendingPathComponent(".build-autobahn/summary.md").path,
            ],
            standardOutput: .pipe,
            standardError: .pipe
        )
        let output = PipeReader(try #require(process.output))
        guard let status = try await process.exited(within: Self.deadline) else {
            try await process.stop()
            return (-1, output.text + "\nkilled after \(Self.deadline)")
        }
        try await output.end()
        return (status, output.text)
    }
}
