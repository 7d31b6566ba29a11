import Foundation

/// One run as `--json` printed it, read back for `river-bench report`: its
/// scenario, its figures in the order printed, and its timeline (`series`)
/// when it has one. Reports written before runs had a timeline read the same,
/// without one.
struct RunRecord {
    /// One figure of the run: a number (as printed) or a text.
    struct Figure {
        let key: String
        let value: JSONValue

        /// The value for people: integers and large numbers grouped (`812,004`), others as printed.
        var shown: String {
            switch self.value {
            case .number(let text):
                guard let number = Double(text) else { return text }
                if !text.contains(".") && !text.lowercased().contains("e"), let integer = Int(text) {
                    return integer.formatted()
                }
                return abs(number) >= 1000 ? Int(number.rounded()).formatted() : text
            case .string(let text): return text
            case .bool(let flag): return String(flag)
            case .null: return "null"
            case .array, .object: return "…"
            }
        }
    }

    /// One column of the timeline.
    struct Column {
        /// As in the JSON: `deliveries_per_second`, `rss_bytes`.
        let name: String
        let values: [Double]
    }

    let scenario: String
    /// Everything but `scenario` and `series`, in order.
    let figures: [Figure]
    /// When each sample of the timeline was taken, in seconds from the start of the run.
    let seconds: [Double]
    /// The timeline's other columns, each as long as `seconds`.
    let columns: [Column]

    /// The run in `text`: its last line that is a JSON object with a `scenario`
    /// (so a file of several runs, or with other output before, gives its last run).
    init(text: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).reversed()
        guard
            let object = lines.lazy.compactMap({ try? JSONValue(parsing: String($0)) }).first(where: {
                if case .string = $0["scenario"] { return true } else { return false }
            }),
            case .object(let members) = object, case .string(let scenario) = object["scenario"]
        else {
            throw BenchError("no river-bench report in it (a line of JSON with a \"scenario\", as --json prints)")
        }
        self.scenario = scenario
        self.figures = members.filter { $0.key != "scenario" && $0.key != "series" }.map {
            Figure(key: $0.key, value: $0.value)
        }
        guard case .object(let series) = object["series"], let seconds = object["series"]?["seconds"]?.doubles else {
            self.seconds = []
            self.columns = []
            return
        }
        self.seconds = seconds
        self.columns = series.compactMap { member in
            guard member.key != "seconds", let values = member.value.doubles, values.count == seconds.count else {
                return nil
            }
            return Column(name: member.key, values: values)
        }
    }

    init(contentsOfFile path: String) throws {
        try self.init(text: try String(contentsOfFile: path, encoding: .utf8))
    }

    /// The figure `key` as a number.
    func number(_ key: String) -> Double? {
        self.figures.first { $0.key == key }?.value.double
    }
}
