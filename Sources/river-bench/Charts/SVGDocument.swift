import Foundation

/// A self-contained SVG image written as text: shapes and labels with the
/// generic `sans-serif` font, no scripts, styles, links or images, so it
/// shows the same in a browser, on GitHub and in an editor.
/// (SVG 1.1: https://www.w3.org/TR/SVG11/)
struct SVGDocument {
    /// A rectangle in the image's coordinates (y grows downwards).
    struct Frame {
        var x: Double
        var y: Double
        var width: Double
        var height: Double

        var right: Double { self.x + self.width }
        var bottom: Double { self.y + self.height }
    }

    /// How a label lines up with its point.
    enum Anchor: String {
        case start
        case middle
        case end
    }

    let width: Double
    private var elements: [String] = []

    init(width: Double) {
        self.width = width
    }

    mutating func text(
        _ text: String,
        x: Double,
        y: Double,
        size: Double = 12,
        anchor: Anchor = .start,
        bold: Bool = false,
        fill: String = "#222",
        rotated: Bool = false
    ) {
        var attributes = "x=\"\(Self.number(x))\" y=\"\(Self.number(y))\" font-size=\"\(Self.number(size))\""
        if anchor != .start { attributes += " text-anchor=\"\(anchor.rawValue)\"" }
        if bold { attributes += " font-weight=\"bold\"" }
        if fill != "#222" { attributes += " fill=\"\(fill)\"" }
        if rotated { attributes += " transform=\"rotate(-90 \(Self.number(x)) \(Self.number(y)))\"" }
        self.elements.append("<text \(attributes)>\(Self.escaped(text))</text>")
    }

    mutating func line(
        from start: (x: Double, y: Double),
        to end: (x: Double, y: Double),
        stroke: String,
        width: Double = 1,
        dashed: Bool = false
    ) {
        self.elements.append(
            "<line x1=\"\(Self.number(start.x))\" y1=\"\(Self.number(start.y))\" x2=\"\(Self.number(end.x))\" "
                + "y2=\"\(Self.number(end.y))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\""
                + (dashed ? " stroke-dasharray=\"6 4\"/>" : "/>")
        )
    }

    mutating func polyline(_ points: [(x: Double, y: Double)], stroke: String, width: Double = 1.5) {
        let list = points.map { "\(Self.number($0.x)),\(Self.number($0.y))" }.joined(separator: " ")
        self.elements.append(
            "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.number(width))\" "
                + "stroke-linejoin=\"round\"/>"
        )
    }

    mutating func rectangle(_ frame: Frame, fill: String, stroke: String? = nil) {
        self.elements.append(
            "<rect x=\"\(Self.number(frame.x))\" y=\"\(Self.number(frame.y))\" width=\"\(Self.number(frame.width))\" "
                + "height=\"\(Self.number(frame.height))\" fill=\"\(fill)\""
                + (stroke.map { " stroke=\"\($0)\"/>" } ?? "/>")
        )
    }

    /// The whole image, `height` tall, with `title` for screen readers and tooltips.
    func rendered(height: Double, title: String) -> String {
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(self.width))\" "
                + "height=\"\(Self.number(height))\" viewBox=\"0 0 \(Self.number(self.width)) \(Self.number(height))\" "
                + "font-family=\"sans-serif\" role=\"img\">",
            "<title>\(Self.escaped(title))</title>",
        ]
        lines.append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>")
        lines += self.elements
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A coordinate with at most one decimal.
    static func number(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(format: "%.1f", rounded)
    }

    /// `text` safe inside an element or an attribute.
    static func escaped(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}

/// An axis's scale: from 0 to a round maximum, in round steps.
struct AxisScale {
    let maximum: Double
    let step: Double

    /// About `ticks` steps of 1, 2 or 5 × 10ⁿ, from 0 to `value` rounded up
    /// to a step (or to `value` itself, when `exact`: time fills its axis).
    init(covering value: Double, ticks: Int = 5, exact: Bool = false) {
        guard value > 0, value.isFinite else {
            self.maximum = 1
            self.step = 0.2
            return
        }
        let rough = value / Double(ticks)
        let power = pow(10, floor(log10(rough)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
        self.step = step
        self.maximum = exact ? value : (value / step).rounded(.up) * step
    }

    /// 0, step, 2 × step … up to the maximum.
    var ticks: [Double] {
        let count = Int((self.maximum / self.step * 1.000001).rounded(.down))
        return (0...count).map { Double($0) * self.step }
    }

    /// A tick's label: `1.2M`, `800k`, `2.5`.
    func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1_000_000 { return Self.trimmed(value / 1_000_000, self.step / 1_000_000) + "M" }
        if magnitude >= 1_000 { return Self.trimmed(value / 1_000, self.step / 1_000) + "k" }
        return Self.trimmed(value, self.step)
    }

    /// `value` with as many decimals as `step` needs.
    private static func trimmed(_ value: Double, _ step: Double) -> String {
        let decimals = step >= 1 || step <= 0 ? 0 : min(3, Int((-log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", value)
    }
}
