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

    @Test func corpusHoldsTheProperties() throws {
        let corpus = try Self.corpus()
        #expect(corpus.count >= 10)
        for input in corpus {
            input.withUnsafeBytes { RequestParsingCheck.check($0) }
            input.withUnsafeBytes { ParserDifferentialCheck.check($0) }
        }
    }

    /// Byte flips, insertions of interesting bytes, deletions and splices of
    /// corpus inputs, from a fixed seed (a failure reproduces).
    @Test func eightThousandMutationsHoldTheProperties() throws {
        let corpus = try Self.corpus()
        var random = SplitMix64(seed: 0x5249_5645_52)
        let interesting: [[UInt8]] = [
            Array("\r\n".utf8), Array("%".utf8), Array("%C3".utf8), Array("&data=".utf8), Array(" HTTP/1.1".utf8),
            Array("Content-Length: 9\r\n".utf8), Array("Transfer-Encoding: chunked\r\n".utf8), [0], [0xFF], [0x7F],
            Array("\r\n\r\n".utf8), Array("ffffffffffffffff\r\n".utf8),
        ]
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
            input.withUnsafeBytes { RequestParsingCheck.check($0) }
            input.withUnsafeBytes { ParserDifferentialCheck.check($0) }
        }
    }

    @Test func theReferenceDecoderAgreesOnKnownCases() {
        #expect(
            RequestParsingCheck.referenceValue(of: "data", in: Array("a=1&data=x+y%21".utf8)) == "[120, 32, 121, 33]"
        )
        #expect(RequestParsingCheck.referenceValue(of: "data", in: Array("d%61ta=%4".utf8)).hasPrefix("error 400"))
        #expect(RequestParsingCheck.referenceValue(of: "data", in: Array("other=1".utf8)) == "-")
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
