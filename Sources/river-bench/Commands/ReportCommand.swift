import ArgumentParser
import Foundation

/// `river-bench report FILE.json`: draws a run's JSON report (what a scenario
/// prints with `--json`) as a self-contained SVG chart, for docs/.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draws a run's JSON report (a scenario's --json line) as a self-contained SVG chart."
    )
    @Argument(help: "The run's JSON, e.g. from `river-bench fanout --json > FILE.json` (its last report line).")
    var file: String
    @Option(help: "Where the SVG goes (default: FILE with .svg for .json; - for standard output).")
    var output: String?
    @Option(help: "The chart's title (default: river-bench SCENARIO).") var title: String?

    func run() throws {
        let run = try RunRecord(contentsOfFile: self.file)
        let svg = RunChart(run: run, title: self.title).svg
        let destination = self.output ?? Self.defaultOutput(for: self.file)
        if destination == "-" {
            FileHandle.standardOutput.write(Data(svg.utf8))
        } else {
            try svg.write(toFile: destination, atomically: true, encoding: .utf8)
            print("wrote \(destination)")
        }
    }

    /// `run.json` → `run.svg`; any other name gets `.svg` added.
    static func defaultOutput(for file: String) -> String {
        (file.hasSuffix(".json") ? String(file.dropLast(5)) : file) + ".svg"
    }
}
