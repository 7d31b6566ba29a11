import Foundation
import Testing

@testable import RiverFuzzing

/// The fuzzer's properties (`RequestParsingCheck`), checked on every input of
/// the committed corpus and on many deterministic mutations of it, so they
/// hold on every test run, not only when the fuzzer runs.
@Suite struct RequestParsingPropertyTests {
    static let corpusDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Corpus")

    static func corpus() throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpusDirectory.path).sorted()
        return try names.map { [UInt8](try Data(contentsOf: Self.corpusDirectory.appendingPathComponent($0))) }
    }

    /// The fuzzer's properties, one test each: a broken one fails its own test and names the input.
    enum Property: String, CaseIterable, CustomStringConvertible {
        case parsing, differential, dispatch, token

        var description: String { self.rawValue }

        /// What `input` violates, or nil.
        func violation(_ input: [UInt8], _ dispatch: DispatchCheck) -> String? {
            input.withUnsafeBytes { bytes in
                switch self {
                case .parsing: RequestParsingCheck.check(bytes)
                case .differential: ParserDifferentialCheck.disagreement(bytes)
                case .dispatch: dispatch.check(bytes)
                case .token: dispatch.checkToken(bytes)
                }
            }
        }
    }

    @Test(arguments: Property.allCases)
    func corpusHoldsTheProperty(_ property: Property) throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 10)
        let dispatch = DispatchCheck()
        for input in corpus {
            let violation = property.violation(input, dispatch)
            #expect(violation == nil, "input \(input.prefix(200))")
        }
    }

    /// Byte flips, insertions of interesting bytes, deletions and splices of
    /// corpus inputs, from a fixed seed (a failure reproduces).
    @Test(arguments: [Property.parsing, .differential, .dispatch])
    func eightThousandMutationsHoldTheProperty(_ property: Property) throws {
        let corpus = try Self.corpus()
        let dispatch = DispatchCheck()
        var random = SplitMix64(seed: 0x5249_5645_52)
        let interesting: [[UInt8]] = [
            Array("\r\n".utf8), Array("%".utf8), Array("%C3".utf8), Array("&data=".utf8), Array(" HTTP/1.1".utf8),
            Array("Content-Length: 9\r\n".utf8), Array("Transfer-Encoding: chunked\r\n".utf8), [0], [0xFF], [0x7F],
            Array("\r\n\r\n".utf8), Array("ffffffffffffffff\r\n".utf8),
        ]
        var violations = 0
        for _ in 0..<8_000 {
            var input = corpus[Int(random.next() % UInt64(corpus.count))]
            for _ in 0..<(1 + random.next() % 4) {
                let position = input.isEmpty ? 0 : Int(random.next() % UInt64(input.count + 1))
                switch random.next() % 4 {
                case 0 where position < input.count:
                    input[position] ^= UInt8(truncatingIfNeeded: random.next() | 1)
                case 1:
                    input.insert(contentsOf: interesting[Int(random.next() % UInt64(interesting.count))], at: position)
                case 2 where position < input.count:
                    input.removeSubrange(position..<min(input.count, position + Int(random.next() % 8) + 1))
                default:
                    let other = corpus[Int(random.next() % UInt64(corpus.count))]
                    input.insert(contentsOf: other.prefix(Int(random.next() % UInt64(other.count + 1))), at: position)
                }
            }
            if let violation = property.violation(input, dispatch), violations < 3 {
                violations += 1
                Issue.record("\(violation); input \(input.prefix(200))")
            }
        }
    }

    @Test func theReferenceDecoderAgreesOnKnownCases() {
        #expect(
            RequestParsingCheck.referenceValue(of: "data", in: Array("a=1&data=x+y%21".utf8)) == "[120, 32, 121, 33]"
        )
        #expect(RequestParsingCheck.referenceValue(of: "data", in: Array("d%61ta=%4".utf8)).hasPrefix("error 400"))
        #expect(RequestParsingCheck.referenceValue(of: "data", in: Array("other=1".utf8)) == "-")
    }

    /// The dispatch check's reader of responses flags what it is meant to flag.
    @Test func theResponseReaderFindsEachViolation() {
        let origin = "https://river.example"
        func violation(_ text: String, methods: [String] = ["GET"]) -> String? {
            ResponseStream.violation(in: Array(text.utf8), methods: methods, listedOrigin: origin)
        }
        let plain = "Content-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\n"
        #expect(violation("HTTP/1.1 404 Not Found\r\n\(plain)Content-Length: 10\r\n\r\nnot found\n") == nil)
        #expect(violation("HTTP/1.1 404 Not Found\r\n\(plain)Content-Length: 10\r\n\r\n", methods: ["HEAD"]) == nil)
        #expect(violation("HTTP/1.1 404 Not Found\r\n\(plain)Content-Length: 10\r\n\r\n") == "a body is cut short")
        #expect(
            violation("HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nno\n")
                == "400 is not text/plain"
        )
        #expect(
            violation("HTTP/1.1 400 Bad Request\r\n\(plain)Content-Length: 4\r\n\r\na\rb\n")?.hasPrefix("400's reason")
                == true
        )
        #expect(
            violation("HTTP/1.1 200 OK\r\nX-Name: a\u{1}b\r\nContent-Length: 0\r\n\r\n")?.hasPrefix("malformed header")
                == true
        )
        let credentials = "Access-Control-Allow-Credentials: true\r\nContent-Length: 0\r\n\r\n"
        #expect(violation("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: \(origin)\r\n\(credentials)") == nil)
        #expect(
            violation("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n\(credentials)")
                == "credentials allowed for origin *"
        )
        #expect(violation("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n") == nil)
        #expect(
            violation("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")?.hasPrefix("bad chunk size")
                == true
        )
    }

    /// The differential check sees both parsers' messages, and forgives only River's deliberate strictness.
    @Test func theDifferentialCheckSeesBothParsers() {
        // llhttp takes a bare-LF head; River refuses it on purpose: no disagreement.
        let bareLF = Array("GET / HTTP/1.1\nHost: x\n\n".utf8)
        #expect(bareLF.withUnsafeBytes { ParserDifferentialCheck.disagreement($0) } == nil)
        // After `Connection: close` neither reads on.
        let closed = Array(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8
        )
        #expect(closed.withUnsafeBytes { ParserDifferentialCheck.disagreement($0) } == nil)
        // An upgrade to a protocol River does not speak: llhttp hands the rest to it, River
        // ignores the Upgrade (RFC 9110 section 7.8) and reads the next request: not a disagreement.
        let otherUpgrade = Array(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
                .utf8
        )
        #expect(otherUpgrade.withUnsafeBytes { ParserDifferentialCheck.river($0).messages.count } == 2)
        #expect(otherUpgrade.withUnsafeBytes { ParserDifferentialCheck.nio($0).messages.count } == 1)
        #expect(otherUpgrade.withUnsafeBytes { ParserDifferentialCheck.disagreement($0) } == nil)
        // Two agreeing requests, the second with a chunked body.
        let two = Array(
            "GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                .utf8
        )
        let river = two.withUnsafeBytes { ParserDifferentialCheck.river($0).messages }
        let nio = two.withUnsafeBytes { ParserDifferentialCheck.nio($0).messages }
        #expect(river.count == 2 && river.map(\.method) == nio.map(\.method) && river.last?.body == Array("hi".utf8))
        #expect(two.withUnsafeBytes { ParserDifferentialCheck.disagreement($0) } == nil)
    }
}

/// A small deterministic generator (https://prng.di.unimi.it/splitmix64.c).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
