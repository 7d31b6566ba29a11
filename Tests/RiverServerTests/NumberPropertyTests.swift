import Logging
import NIOCore
import NIOPosix
import RiverCore
import RiverMemoryEngine
import RiverTesting
import Testing

@testable import RiverServer

/// Properties of client numbers, checked on a committed list of hostile
/// numbers (2^64 and its neighbours, 2^63, signs, exponents, fullwidth
/// digits, 400-digit strings) and thousands of generated ones:
///
/// 1. `CheckedNumber` agrees with a reference that compares decimal strings
///    (never an integer conversion), so it cannot trap;
/// 2. every responder's parsing step, given a hostile number in any numeric
///    parameter or header, answers a value or a 4xx `RequestError` — never a
///    trap. This is the property that catches `GET /channels?limit=2^64-1`,
///    which once stopped the process in the admin responder.
@Suite struct NumberPropertyTests {
    static let hostileNumbers = [
        "0", "1", "00000000000000000000000001", "1000", "1001", "18446744073709551615", "18446744073709551616",
        "18446744073709551617", "36893488147419103232", "9223372036854775807", "9223372036854775808",
        "99999999999999999999999999999", String(repeating: "9", count: 400), "-1", "-0", "+1", "%2B1", "1e3",
        "0x10", "1.5", " 1", "1%20", "", "%00", "%EF%BC%91", "NaN", "inf", "%",
    ]

    static let numericParameters = ["seq", "epoch", "hello", "keep", "lastEventId", "limit"]

    @Test func checkedNumberAgreesWithADecimalReference() {
        var random = SplitMix64(seed: 0x4E55_4D42_4552)
        var inputs = Self.hostileNumbers.filter { !$0.contains("%") }
        for _ in 0..<20_000 {
            let length = Int(random.next() % 42)
            var text = ""
            for _ in 0..<length {
                // Mostly digits, sometimes a byte that is not one.
                text.append(
                    random.next() % 16 == 0
                        ? "+-e. x".randomElement(using: &random)! : Character("\(random.next() % 10)")
                )
            }
            inputs.append(text)
        }
        for text in inputs {
            let reference = Self.reference(text)
            do {
                let value = try CheckedNumber.parse(text)
                #expect(reference == .fits(value), "\(text)")
            } catch {
                #expect(reference == (error.isOutOfRange ? .tooLarge : .notANumber), "\(text)")
            }
            // Every range: inside means parsed, outside means out of range.
            if case .fits(let value) = reference {
                #expect((try? CheckedNumber.parse(text, in: 0...1000)) == (value <= 1000 ? Int(value) : nil))
            }
        }
    }

    enum Reference: Equatable {
        case fits(UInt64)
        case tooLarge
        case notANumber
    }

    /// Decides by comparing decimal strings; converts only what is known to fit.
    static func reference(_ text: String) -> Reference {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return .notANumber }
        let significant = String(text.drop { $0 == "0" })
        let max = String(UInt64.max)
        if significant.count > max.count || (significant.count == max.count && significant > max) { return .tooLarge }
        return .fits(significant.isEmpty ? 0 : UInt64(significant)!)
    }

    /// Every route's parsing step, and the admin responder itself, on every
    /// hostile number in every numeric parameter and header.
    @Test func everyResponderParsesHostileNumbersWithoutTrapping() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let configuration = RiverConfiguration.testing
        let server = try await ServerContext.make(
            configuration: configuration,
            group: group,
            logger: Logger(label: "number-properties")
        )
        let loop = group.next()
        var checked = 0
        for number in Self.hostileNumbers {
            for parameter in Self.numericParameters {
                var head = ParsedRequestHead()
                head.query = ByteBuffer(string: "name=n&data=x&seq=0&\(parameter)=\(number)")
                let request = ParsedRequest(head: head)
                for route in [Route.subscribe, .eventSource] {
                    Self.expectAnswerOr4xx {
                        _ = try SubscribeRequest(request, route: route, configuration: configuration)
                    }
                }
                Self.expectAnswerOr4xx { _ = try PublishResponder.validate(request, configuration: configuration) }
                Self.expectAnswerOr4xx { _ = try ChannelListQuery(query: head.query) }
                Self.expectAnswerOr4xx {
                    let parameters = RequestParameters(query: head.query)
                    _ = try SubscribeRequest.resumePoint(seq: try parameters.unsignedInteger("seq"), parameters)
                }
                for route in [Route.channelList, .channel("n"), .stats, .metrics, .health] {
                    let answer: EventLoopFuture<AdminResponder.Answer>
                    do {
                        answer = try AdminResponder.respond(to: route, request: request, server: server, on: loop)
                    } catch {
                        #expect(error.status.code >= 400 && error.status.code < 500, "\(route) \(parameter)=\(number)")
                        continue
                    }
                    _ = try await answer.get()
                }
                checked += 1
            }
            var head = ParsedRequestHead()
            head.query = ByteBuffer(string: "name=n")
            head.lastEventID = number
            Self.expectAnswerOr4xx {
                _ = try SubscribeRequest(ParsedRequest(head: head), route: .eventSource, configuration: configuration)
            }
        }
        #expect(checked == Self.hostileNumbers.count * Self.numericParameters.count)
        await server.engine.shutdown()
        try await group.shutdownGracefully()
    }

    static func expectAnswerOr4xx(_ body: () throws -> Void) {
        do {
            try body()
        } catch let error as RequestError {
            #expect(error.status.code >= 400 && error.status.code < 500, "\(error)")
        } catch {
            Issue.record("not a RequestError: \(error)")
        }
    }
}
