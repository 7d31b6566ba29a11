import Foundation

/// The figures of one run drawn as an SVG chart for docs/: a title, one
/// panel per column of its timeline (a rate over time, with the run's mean
/// dashed across it, or a level such as the server's RSS), latency
/// percentiles as bars when the run has them, and every figure of the run in
/// a table underneath — the numbers the chart was drawn from.
struct RunChart {
    private static let width = 760.0
    private static let plotLeft = 84.0
    private static let plotRight = 24.0
    private static let plotHeight = 190.0
    private static let lineColour = "#1f6fb4"
    private static let meanColour = "#c8372d"
    private static let gridColour = "#e3e3e3"
    private static let axisColour = "#444"
    private static let quietText = "#666"

    let run: RunRecord
    let title: String

    init(run: RunRecord, title: String? = nil) {
        self.run = run
        self.title = title ?? "river-bench \(run.scenario)"
    }

    /// The SVG text.
    var svg: String {
        var document = SVGDocument(width: Self.width)
        var y = 30.0
        document.text(self.title, x: 24, y: y, size: 18, bold: true)
        y += 22
        document.text(self.subtitle, x: 24, y: y, size: 12, fill: Self.quietText)
        y += 18
        for column in self.run.columns {
            y = self.drawTimeline(column, in: &document, top: y)
        }
        if !self.percentiles.isEmpty {
            y = self.drawPercentiles(in: &document, top: y)
        }
        y = self.drawFigures(in: &document, top: y)
        return document.rendered(height: y + 12, title: "\(self.title): \(self.subtitle)")
    }

    /// The run's headline: its mean rate or its latency, with its length and setting.
    private var subtitle: String {
        var parts: [String] = []
        if let rate = self.run.figures.first(where: { $0.key.hasSuffix("_per_second") }) {
            parts.append("\(rate.shown) \(Self.unit(of: rate.key)) on average")
        }
        if let p99 = self.run.number("p99_us") { parts.append("p99 \(Int(p99).formatted()) µs") }
        if let seconds = self.run.number("seconds") { parts.append(String(format: "over %.2f s", seconds)) }
        for key in ["transport", "subscribers", "readers", "writers", "publishers", "clients", "depth"] {
            if let figure = self.run.figures.first(where: { $0.key == key }) { parts.append("\(key) \(figure.shown)") }
        }
        return parts.joined(separator: " · ")
    }

    /// `deliveries_per_second` → `deliveries/s`; `rss_bytes` → `MiB` (drawn in MiB).
    private static func unit(of name: String) -> String {
        if name.hasSuffix("_per_second") { return Self.words(name.dropLast("_per_second".count)) + "/s" }
        if name.hasSuffix("_bytes") { return "MiB" }
        return Self.words(name[...])
    }

    /// `rss_bytes` → `rss bytes`.
    private static func words(_ name: Substring) -> String {
        String(name).replacingOccurrences(of: "_", with: " ")
    }

    /// One timeline column against time; returns where the next panel starts.
    private func drawTimeline(_ column: RunRecord.Column, in document: inout SVGDocument, top: Double) -> Double {
        let isRate = column.name.hasSuffix("_per_second")
        let isBytes = column.name.hasSuffix("_bytes")
        let values = isBytes ? column.values.map { $0 / 1_048_576 } : column.values
        let unit = Self.unit(of: column.name)
        let label = isRate ? unit : isBytes ? "\(Self.words(column.name.dropLast("_bytes".count))) (MiB)" : unit
        document.text(isRate ? "\(unit) over time" : "\(label) over time", x: 24, y: top + 18, size: 13, bold: true)
        let frame = SVGDocument.Frame(
            x: Self.plotLeft,
            y: top + 30,
            width: Self.width - Self.plotLeft - Self.plotRight,
            height: Self.plotHeight
        )
        // The rate the run reports (over its whole length), when it has it under the same name.
        let mean = isRate ? self.run.number(column.name) : nil
        let xScale = AxisScale(covering: self.run.seconds.last ?? 1, ticks: 8, exact: true)
        let yScale = AxisScale(covering: max(values.max() ?? 0, mean ?? 0) * 1.05)
        self.drawAxes(in: &document, frame: frame, x: (xScale, "seconds"), y: (yScale, label))
        let position = { (seconds: Double, value: Double) -> (x: Double, y: Double) in
            (
                frame.x + seconds / xScale.maximum * frame.width,
                frame.bottom - max(0, value) / yScale.maximum * frame.height
            )
        }
        var points: [(x: Double, y: Double)] = []
        var previous = 0.0
        for (seconds, value) in zip(self.run.seconds, values) {
            // A rate holds over its interval: a step; a level is a point.
            if isRate { points.append(position(previous, value)) }
            points.append(position(seconds, value))
            previous = seconds
        }
        if points.count == 1 { points.insert(position(0, values[0]), at: 0) }
        document.polyline(points, stroke: Self.lineColour)
        if let mean {
            // Dashed across the plot; its legend on the panel's title line, clear of the data.
            let y = position(0, mean).y
            document.line(from: (frame.x, y), to: (frame.right, y), stroke: Self.meanColour, width: 1.2, dashed: true)
            let text = "mean \(Int(mean.rounded()).formatted()) \(unit)"
            document.text(text, x: frame.right, y: top + 18, size: 12, anchor: .end, fill: Self.meanColour)
            let legend = (x: frame.right - 6.5 * Double(text.count) - 34, y: top + 14)
            document.line(
                from: legend,
                to: (legend.x + 26, legend.y),
                stroke: Self.meanColour,
                width: 1.2,
                dashed: true
            )
        }
        return frame.bottom + 48
    }

    /// Grid, ticks and axis titles of a plot.
    private func drawAxes(
        in document: inout SVGDocument,
        frame: SVGDocument.Frame,
        x: (scale: AxisScale, title: String),
        y: (scale: AxisScale, title: String)
    ) {
        for tick in y.scale.ticks {
            let position = frame.bottom - tick / y.scale.maximum * frame.height
            document.line(from: (frame.x, position), to: (frame.right, position), stroke: Self.gridColour)
            document.text(y.scale.label(tick), x: frame.x - 6, y: position + 4, size: 11, anchor: .end)
        }
        for tick in x.scale.ticks {
            let position = frame.x + tick / x.scale.maximum * frame.width
            document.line(from: (position, frame.bottom), to: (position, frame.bottom + 4), stroke: Self.axisColour)
            document.text(x.scale.label(tick), x: position, y: frame.bottom + 17, size: 11, anchor: .middle)
        }
        document.line(from: (frame.x, frame.y), to: (frame.x, frame.bottom), stroke: Self.axisColour)
        document.line(from: (frame.x, frame.bottom), to: (frame.right, frame.bottom), stroke: Self.axisColour)
        document.text(x.title, x: frame.x + frame.width / 2, y: frame.bottom + 34, size: 12, anchor: .middle)
        document.text(y.title, x: 20, y: frame.y + frame.height / 2, size: 12, anchor: .middle, rotated: true)
    }

    /// The latency figures (`p50_us` … `max_us`) a latency run reports, in order.
    private var percentiles: [(label: String, microseconds: Double)] {
        self.run.figures.compactMap { figure in
            guard figure.key.hasSuffix("_us"), figure.key.hasPrefix("p") || figure.key == "max_us",
                let value = figure.value.double
            else { return nil }
            let name = String(figure.key.dropLast(3))
            // p999 is the 99.9th percentile.
            let label = name.count > 3 && name.hasPrefix("p99") ? "p99." + name.dropFirst(3) : name
            return (label, value)
        }
    }

    /// Publish-to-delivery latency as bars; returns where the next panel starts.
    private func drawPercentiles(in document: inout SVGDocument, top: Double) -> Double {
        document.text("publish-to-delivery latency", x: 24, y: top + 18, size: 13, bold: true)
        let frame = SVGDocument.Frame(
            x: Self.plotLeft,
            y: top + 30,
            width: Self.width - Self.plotLeft - Self.plotRight,
            height: Self.plotHeight
        )
        let bars = self.percentiles
        let scale = AxisScale(covering: (bars.map(\.microseconds).max() ?? 0) * 1.1)
        for tick in scale.ticks {
            let position = frame.bottom - tick / scale.maximum * frame.height
            document.line(from: (frame.x, position), to: (frame.right, position), stroke: Self.gridColour)
            document.text(scale.label(tick), x: frame.x - 6, y: position + 4, size: 11, anchor: .end)
        }
        let slot = frame.width / Double(bars.count)
        for (index, bar) in bars.enumerated() {
            let height = bar.microseconds / scale.maximum * frame.height
            let x = frame.x + slot * Double(index)
            let box = SVGDocument.Frame(x: x + slot * 0.25, y: frame.bottom - height, width: slot * 0.5, height: height)
            document.rectangle(box, fill: Self.lineColour)
            let value = "\(Int(bar.microseconds).formatted()) µs"
            document.text(value, x: x + slot / 2, y: box.y - 5, size: 11, anchor: .middle)
            document.text(bar.label, x: x + slot / 2, y: frame.bottom + 17, size: 12, anchor: .middle)
        }
        document.line(from: (frame.x, frame.y), to: (frame.x, frame.bottom), stroke: Self.axisColour)
        document.line(from: (frame.x, frame.bottom), to: (frame.right, frame.bottom), stroke: Self.axisColour)
        document.text("latency, µs", x: 20, y: frame.y + frame.height / 2, size: 12, anchor: .middle, rotated: true)
        return frame.bottom + 34
    }

    /// Every figure of the run, two columns of name and value; returns the bottom.
    private func drawFigures(in document: inout SVGDocument, top: Double) -> Double {
        document.text("figures of the run", x: 24, y: top + 18, size: 13, bold: true)
        let rows = (self.run.figures.count + 1) / 2
        for (index, figure) in self.run.figures.enumerated() {
            let x = index < rows ? 24.0 : Self.width / 2 + 12
            let y = top + 40 + Double(index % rows) * 18
            document.text(figure.key, x: x, y: y, size: 12, fill: Self.quietText)
            document.text(figure.shown, x: x + 330, y: y, size: 12, anchor: .end)
        }
        return top + 40 + Double(max(rows, 1) - 1) * 18
    }
}
