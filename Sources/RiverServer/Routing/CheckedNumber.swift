/// The one way River turns a number it was sent into an integer: query and
/// form parameters, header fields (`Last-Event-ID`), token claims and the
/// configuration all go through here.
///
/// Swift's integer conversions trap on overflow (`Int(UInt64.max)` stops the
/// process), so a number from outside is never converted with them: it is
/// parsed, range-checked and handed back as the type the caller uses, or
/// refused with a one-line reason the caller turns into a 400 (or a
/// configuration error).
enum CheckedNumber {
    /// Why a number was refused.
    struct Refusal: Error, Equatable, CustomStringConvertible {
        /// True when the text was a number, only too large or too small for the range.
        let isOutOfRange: Bool
        let description: String
    }

    /// At most this much of a refused text is quoted in the reason.
    static let quotedLength = 32

    /// A decimal integer written with ASCII digits only (no sign, no spaces,
    /// no exponent) and within `range`.
    static func parse(
        _ text: some StringProtocol,
        in range: ClosedRange<UInt64> = 0...UInt64.max
    ) throws(Refusal) -> UInt64 {
        var value: UInt64 = 0
        var overflowed = false
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { throw Self.notANumber(text) }
            let (shifted, multiplyOverflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, addOverflow) = shifted.addingReportingOverflow(UInt64(byte &- UInt8(ascii: "0")))
            overflowed = overflowed || multiplyOverflow || addOverflow
            value = sum
        }
        guard !text.isEmpty else { throw Self.notANumber(text) }
        guard !overflowed, range.contains(value) else {
            throw Refusal(
                isOutOfRange: true,
                description: "\(Self.shortened(text)) is out of range \(range.lowerBound)...\(range.upperBound)"
            )
        }
        return value
    }

    /// `parse` for callers that work in `Int`; `range` must not be negative.
    static func parse(_ text: some StringProtocol, in range: ClosedRange<Int>) throws(Refusal) -> Int {
        precondition(range.lowerBound >= 0, "CheckedNumber parses non-negative numbers")
        let value = try Self.parse(text, in: UInt64(range.lowerBound)...UInt64(range.upperBound))
        return Int(value)  // within `range`, so it fits
    }

    /// A JSON number of seconds since 1970 (a token's `exp` or `nbf`), as whole
    /// seconds within `range`; NaN, infinities and anything outside are refused.
    static func seconds(_ value: Double, in range: ClosedRange<Int64>) throws(Refusal) -> Int64 {
        guard value.isFinite, let whole = Int64(exactly: value.rounded(.down)), range.contains(whole) else {
            throw Refusal(isOutOfRange: true, description: "\(value) is out of range")
        }
        return whole
    }

    private static func notANumber(_ text: some StringProtocol) -> Refusal {
        Refusal(isOutOfRange: false, description: "expected a non-negative integer, got '\(Self.shortened(text))'")
    }

    /// The text, cut at `quotedLength` characters.
    private static func shortened(_ text: some StringProtocol) -> String {
        text.count > Self.quotedLength ? "\(text.prefix(Self.quotedLength))..." : String(text)
    }
}
