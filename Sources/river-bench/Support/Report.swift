import Foundation

/// A run's result: a human summary, or one JSON line with `--json` (its
/// figures, then its timeline as `series` when the scenario samples one).
struct Report {
    enum Value {
        case int(Int)
        case number(Double)
        case text(String)

        var json: String {
            switch self {
            case .int(let value): return String(value)
            case .number(let value): return String(format: "%.3f", value)
            case .text(let value):
                let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                    of: "\"",
                    with: "\\\""
                )
                return "\"\(escaped)\""
            }
        }

        var human: String {
            switch self {
            case .int(let value): return value.formatted()
            case .number(let value): return String(format: "%.3f", value)
            case .text(let value): return value
            }
        }
    }

    let scenario: String
    private(set) var fields: [(String, Value)] = []
    /// The run's figures over time: in the JSON only (`river-bench report` draws them).
    var timeline: Timeline?

    init(scenario: String) {
        self.scenario = scenario
    }

    mutating func add(_ key: String, _ value: Int) { self.fields.append((key, .int(value))) }
    mutating func add(_ key: String, _ value: Double) { self.fields.append((key, .number(value))) }
    mutating func add(_ key: String, _ value: String) { self.fields.append((key, .text(value))) }

    func print(json: Bool) {
        if json {
            var body = ([("scenario", Value.text(self.scenario))] + self.fields).map { "\"\($0.0)\": \($0.1.json)" }
            if let timeline = self.timeline, !timeline.isEmpty { body.append("\"series\": " + timeline.json) }
            Swift.print("{" + body.joined(separator: ", ") + "}")
        } else {
            Swift.print("river-bench \(self.scenario)")
            let width = self.fields.map(\.0.count).max() ?? 0
            for (key, value) in self.fields {
                Swift.print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value.human)
            }
        }
    }
}
