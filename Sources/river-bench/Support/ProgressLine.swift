import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The live line a long run shows on standard error —
/// `fanout  12.3 s  812,004 deliveries/s  40,000,000 / 100,000,000 deliveries` —
/// rewritten in place (`\r`) about once a second and cleared when the wait
/// ends. Only on a terminal: piped or redirected (scripts, tests), a run
/// writes its report and nothing else; standard output never carries it, so
/// `--json` stays one clean line either way.
struct ProgressLine {
    /// How often the line is rewritten.
    static let interval = Duration.seconds(1)

    /// Whether standard error is a terminal (the default for showing progress).
    static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    private let enabled: Bool
    private var shown = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Replaces the line with `text`.
    mutating func show(_ text: String) {
        guard self.enabled else { return }
        self.shown = true
        // Carriage return, the text, then erase what a longer earlier line left (ECMA-48 EL).
        Self.write("\r" + text + "\u{1B}[K")
    }

    /// Erases the line, so what follows starts on a clean one.
    mutating func clear() {
        guard self.shown else { return }
        self.shown = false
        Self.write("\r\u{1B}[K")
    }

    /// `what  12.3 s  812,004 UNIT/s  done / total UNIT  extra`.
    static func text(
        _ what: String,
        seconds: Double,
        rate: Double,
        unit: String,
        done: Int,
        total: Int?,
        extra: String? = nil
    ) -> String {
        var parts = [what, String(format: "%.1f s", seconds), "\(Int(rate.rounded()).formatted()) \(unit)/s"]
        parts.append(total.map { "\(done.formatted()) / \($0.formatted()) \(unit)" } ?? "\(done.formatted()) \(unit)")
        if let extra { parts.append(extra) }
        return parts.joined(separator: "  ")
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// What a wait counts, for its live line and the run's timeline: a counter
/// (read from the tally), its unit (`deliveries`) and the total the wait is
/// for, if there is one.
struct Meter {
    let unit: String
    let total: Int?
    /// The count at the start of the timeline (nil: whatever it is when the wait begins).
    let origin: Int?
    let count: () -> Int

    init(_ unit: String, of total: Int? = nil, from origin: Int? = nil, count: @escaping () -> Int) {
        self.unit = unit
        self.total = total
        self.origin = origin
        self.count = count
    }

    /// `400 / 1,000 deliveries`: where the count stands, for a timeout's message.
    var status: String {
        let done = self.count().formatted()
        return self.total.map { "\(done) / \($0.formatted()) \(self.unit)" } ?? "\(done) \(self.unit)"
    }
}
