import Foundation
import RiverTesting
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif
#if canImport(Glibc)
import Glibc
#endif

/// `river-bench`'s live progress line and its `report` command, against a
/// live River: on a terminal (a pseudo-terminal here) the line goes to
/// standard error and the JSON on standard output stays one clean line;
/// without a terminal nothing but the report is written; `report` turns a
/// run's JSON into a well-formed, self-contained SVG carrying the run's numbers.
@Suite(.serialized) struct BenchReportTests {
    /// Runs `river-bench` to the end with its standard error on `standardError`.
    func bench(_ arguments: [String], standardError: Capture) async throws -> (output: String, error: String) {
        let output = try Capture.pipe()
        let process = try ChildProcess(
            RiverProcess.executable.deletingLastPathComponent().appendingPathComponent("river-bench").path,
            arguments,
            standardOutput: .descriptor(output.childEnd),
            standardError: .descriptor(standardError.childEnd)
        )
        output.closeChildEnd()
        standardError.closeChildEnd()
        try await eventually("river-bench \(arguments) ends", timeout: .seconds(120)) {
            let ended = output.drain() && standardError.drain()
            return ended && !process.isRunning
        }
        let result = (output.text, standardError.text)
        #expect(process.terminationStatus == 0, "river-bench \(arguments): \(result)")
        return result
    }

    @Test func onATerminalTheLiveLineIsRewrittenOnStandardErrorAndTheJSONStaysClean() async throws {
        try await withRiver(.live) { river in
            let terminal = try Capture.terminal()
            let (output, screen) = try await self.bench(
                ["publish", "--publishers", "2", "--duration", "2.2", "--json", "--port", String(river.port)],
                standardError: terminal
            )
            // Standard output: the one JSON line, with its timeline.
            let report = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            #expect(output.split(separator: "\n").count == 1)
            #expect(report["failed"] as? Int == 0)
            let series = try #require(report["series"] as? [String: Any], "\(output)")
            let seconds = series["seconds"] as? [Double] ?? []
            #expect(seconds.count >= 15, "a sample every 0.1 s for 2.2 s: \(seconds)")
            #expect((series["publishes_per_second"] as? [Double])?.count == seconds.count)
            // The terminal: at least two lines (at 1 s and 2 s), each rewritten in place, then erased.
            let lines = screen.matches(of: /\rpublish  \d+\.\d s  [\d,]+ publishes\/s  [\d,]+ publishes\u{1B}\[K/)
            #expect(lines.count >= 2, "\(screen.debugDescription)")
            #expect(screen.hasSuffix("\r\u{1B}[K"), "\(screen.debugDescription)")
            #expect(!screen.contains("\n"), "\(screen.debugDescription)")
        }
    }

    @Test(arguments: [false, true])
    func withoutATerminalNothingButTheReportIsWritten(json: Bool) async throws {
        try await withRiver(.live) { river in
            // Long enough for a live line to be due (once a second) had standard error been a terminal.
            let (output, error) = try await self.bench(
                ["publish", "--publishers", "2", "--duration", "1.3", "--port", String(river.port)]
                    + (json ? ["--json"] : []),
                standardError: try Capture.pipe()
            )
            #expect(error.isEmpty, "\(error.debugDescription)")
            #expect(!output.contains("\r") && !output.contains("\u{1B}"), "\(output.debugDescription)")
            if json {
                #expect(try JSONSerialization.jsonObject(with: Data(output.utf8)) is [String: Any])
            } else {
                #expect(output.hasPrefix("river-bench publish\n"), "\(output)")
            }
        }
    }

    @Test func reportDrawsARunAsAWellFormedSelfContainedSVG() async throws {
        try await withRiver(.live) { river in
            let (output, _) = try await self.bench(
                ["publish", "--publishers", "2", "--duration", "0.8", "--json", "--port", String(river.port)],
                standardError: try Capture.pipe()
            )
            let run = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
            let samples = ((run["series"] as? [String: Any])?["seconds"] as? [Double])?.count ?? 0
            #expect(samples >= 5)
            let svg = try await self.report(output)
            #expect(svg.root == "svg")
            #expect(svg.title.hasPrefix("river-bench publish"))
            // The run's numbers, as the figures table and the mean line show them.
            let published = try #require(run["published"] as? Int)
            let rate = try #require((run["publishes_per_second"] as? NSNumber)?.doubleValue)
            #expect(svg.texts.contains(published.formatted()), "\(svg.texts)")
            // (a rate under 1,000 as printed, 980.062; above, grouped, 12,346)
            let printed = try #require(output.firstMatch(of: /"publishes_per_second": ([0-9.]+)/)?.1)
            #expect(
                svg.texts.contains(rate >= 1000 ? Int(rate.rounded()).formatted() : String(printed)),
                "\(svg.texts)"
            )
            #expect(svg.texts.contains("mean \(Int(rate.rounded()).formatted()) publishes/s"), "\(svg.texts)")
            // Axis titles with units, and one step of the rate line per sample.
            #expect(svg.texts.contains("seconds") && svg.texts.contains("publishes/s"), "\(svg.texts)")
            #expect(svg.polylines.map(\.count) == [2 * samples], "\(svg.polylines)")
            #expect(
                svg.polylines.joined().allSatisfy { $0.x >= 0 && $0.x <= svg.width && $0.y >= 0 && $0.y <= svg.height }
            )
        }
    }

    /// A report line without a timeline (as runs printed before they had one) still draws: its figures, and
    /// latency percentiles as bars.
    @Test func reportDrawsARunWithoutATimeline() async throws {
        let line = """
            {"scenario": "latency", "transport": "sse", "subscribers": 100, "rate": 1000, "deliveries": 1000000, \
            "p50_us": 412, "p99_us": 1304, "p999_us": 2639, "max_us": 5047, "failed": 0}
            """
        let svg = try await self.report("some earlier output\n" + line + "\n")
        #expect(svg.root == "svg")
        #expect(svg.polylines.isEmpty)
        for text in ["412 µs", "1,304 µs", "2,639 µs", "5,047 µs", "p99.9", "1,000,000", "sse"] {
            #expect(svg.texts.contains(text), "\(text) in \(svg.texts)")
        }
    }

    /// Writes `json` to a file, runs `river-bench report` on it and parses the SVG it writes.
    func report(_ json: String) async throws -> ParsedSVG {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-report-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("run.json")
        try json.write(to: input, atomically: true, encoding: .utf8)
        _ = try await self.bench(["report", input.path], standardError: try Capture.pipe())
        let text = try String(contentsOf: directory.appendingPathComponent("run.svg"), encoding: .utf8)
        for external in ["href", "<image", "<script", "<style", "url("] {
            #expect(!text.contains(external), "self-contained: no \(external)")
        }
        return try ParsedSVG(text)
    }
}

/// What the tests look at in an SVG, read with Foundation's XMLParser (which fails on text that is not well-formed).
struct ParsedSVG {
    private(set) var root = ""
    private(set) var width = 0.0
    private(set) var height = 0.0
    private(set) var title = ""
    /// Every `<text>` element's text.
    private(set) var texts: [String] = []
    private(set) var polylines: [[(x: Double, y: Double)]] = []

    private init() {}

    init(_ text: String) throws {
        let reader = Reader()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = reader
        // (swift-corelibs-foundation's parse() says true for a document that ends early, but sets the error.)
        guard parser.parse(), parser.parserError == nil, reader.open == 0 else {
            throw TestFailure("not well-formed XML: \(parser.parserError.map(String.init(describing:)) ?? "unclosed")")
        }
        self = reader.svg
    }

    /// The parser's delegate.
    private final class Reader: NSObject, XMLParserDelegate {
        var svg = ParsedSVG()
        /// Elements started and not yet ended.
        var open = 0
        private var characters = ""

        override init() {}

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if self.svg.root.isEmpty {
                self.svg.root = name
                self.svg.width = Double(attributes["width"] ?? "") ?? 0
                self.svg.height = Double(attributes["height"] ?? "") ?? 0
            }
            if name == "polyline" {
                self.svg.polylines.append(
                    (attributes["points"] ?? "").split(separator: " ").map { pair in
                        let xy = pair.split(separator: ",").map { Double($0) ?? .nan }
                        return (xy.first ?? .nan, xy.last ?? .nan)
                    }
                )
            }
            self.characters = ""
            self.open += 1
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            self.characters += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "text" { self.svg.texts.append(self.characters) }
            if name == "title" { self.svg.title = self.characters }
            self.open -= 1
        }
    }
}

/// Where a child writes and this test reads without blocking: a pipe, or a
/// pseudo-terminal, which the child sees as a terminal (`isatty`).
final class Capture: @unchecked Sendable {
    /// The descriptor the child gets.
    let childEnd: Int32
    private var childEndOpen = true
    private let readEnd: Int32
    private var data = Data()
    private var ended = false

    private init(readEnd: Int32, childEnd: Int32) {
        self.readEnd = readEnd
        self.childEnd = childEnd
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    }

    static func pipe() throws -> Capture {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        return Capture(readEnd: ends[0], childEnd: ends[1])
    }

    /// A pseudo-terminal: the child writes to its terminal side, the test reads the other.
    static func terminal() throws -> Capture {
        // glibc's pty calls, found at run time: the Glibc module leaves them out (they need _XOPEN_SOURCE).
        typealias Open = @convention(c) (Int32) -> Int32
        typealias OnController = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>, Int) -> Int32
        guard let openSymbol = dlsym(nil, "posix_openpt"), let grantSymbol = dlsym(nil, "grantpt"),
            let unlockSymbol = dlsym(nil, "unlockpt"), let nameSymbol = dlsym(nil, "ptsname_r")
        else { throw TestFailure("this libc has no posix_openpt, grantpt, unlockpt or ptsname_r") }
        let controller = unsafeBitCast(openSymbol, to: Open.self)(O_RDWR | O_NOCTTY)
        var name = [CChar](repeating: 0, count: 128)
        guard controller >= 0, unsafeBitCast(grantSymbol, to: OnController.self)(controller) == 0,
            unsafeBitCast(unlockSymbol, to: OnController.self)(controller) == 0,
            unsafeBitCast(nameSymbol, to: Name.self)(controller, &name, name.count) == 0
        else { throw TestFailure("no pseudo-terminal: errno \(errno)") }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let terminal = open(path, O_RDWR | O_NOCTTY)
        guard terminal >= 0 else { throw TestFailure("cannot open \(path): errno \(errno)") }
        guard isatty(terminal) == 1 else { throw TestFailure("\(path) is not a terminal") }
        return Capture(readEnd: controller, childEnd: terminal)
    }

    /// Closes this process's copy of the child's end, once the child has its own.
    func closeChildEnd() {
        if self.childEndOpen { close(self.childEnd) }
        self.childEndOpen = false
    }

    /// Reads what is there; whether the writer has gone (a pipe's end of file, a terminal's EIO).
    func drain() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !self.ended {
            let count = read(self.readEnd, &buffer, buffer.count)
            if count > 0 {
                self.data.append(contentsOf: buffer[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else if count == 0 || errno != EAGAIN {
                self.ended = true
            } else {
                break
            }
        }
        return self.ended
    }

    var text: String { String(decoding: self.data, as: UTF8.self) }

    deinit {
        self.closeChildEnd()
        close(self.readEnd)
    }
}
