import NIOConcurrencyHelpers
import NIOCore
import RiverCore
import Testing

@testable import RiverServer

/// The authorizer without a network (PROTOCOL.md C4): cache, coalescing,
/// bounds, timeouts and strict reading, against an application answered in-process.
@Suite struct AuthorizerTests {
    /// An application in-process: answers with `reply`, or holds every question until `release()`.
    final class FakeApplication: AuthTransport, @unchecked Sendable {
        private let lock = NIOLock()
        private var bodies: [String] = []
        private var held: [CheckedContinuation<Void, Never>] = []
        private var holding: Bool
        let reply: @Sendable (String) -> (Int, String)

        init(holding: Bool = false, reply: @escaping @Sendable (String) -> (Int, String)) {
            self.holding = holding
            self.reply = reply
        }

        var questions: [String] { self.lock.withLock { self.bodies } }
        var waiting: Int { self.lock.withLock { self.held.count } }

        func post(_ body: ByteBuffer, maxBytes: Int) async throws -> (status: Int, body: [UInt8]) {
            let text = String(buffer: body)
            await withCheckedContinuation { continuation in
                let hold = self.lock.withLock {
                    self.bodies.append(text)
                    if self.holding { self.held.append(continuation) }
                    return self.holding
                }
                if !hold { continuation.resume() }
            }
            let (status, answer) = self.reply(text)
            guard answer.utf8.count <= maxBytes else { throw NIOTooManyBytesError(maxBytes: maxBytes) }
            return (status, Array(answer.utf8))
        }

        func release() {
            let held = self.lock.withLock {
                self.holding = false
                defer { self.held = [] }
                return self.held
            }
            for continuation in held { continuation.resume() }
        }

        func shutdown() async {}
    }

    /// A clock the test moves.
    final class TestClock: @unchecked Sendable {
        private let lock = NIOLock()
        private var time = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var now: NIODeadline { self.lock.withLock { self.time } }
        func advance(_ amount: TimeAmount) { self.lock.withLock { self.time = self.time + amount } }
    }

    static func authorizer(
        _ application: FakeApplication,
        clock: TestClock = TestClock(),
        timeout: TimeAmount = .seconds(1),
        maxInFlight: Int = 64,
        cacheSize: Int = 1000
    ) -> Authorizer {
        Authorizer(
            transport: application,
            timeout: timeout,
            maxInFlight: maxInFlight,
            cacheSize: cacheSize,
            maxMessageSize: 1024,
            now: { clock.now }
        )
    }

    static func question(
        _ action: AuthQuestion.Action = .subscribe,
        _ channels: [String] = ["a"],
        cookie: String? = nil,
        token: String? = nil,
        origin: String? = nil,
        data: String? = nil
    ) -> AuthQuestion {
        AuthQuestion(
            action: action,
            channels: channels.map(Self.name),
            data: data.map { ByteBuffer(string: $0) },
            client: .init(address: "203.0.113.7", origin: origin, transport: "sse"),
            headers: cookie.map { [(name: "cookie", value: $0)] } ?? [],
            token: token,
            claims: nil
        )
    }

    static func name(_ text: String) -> ChannelName {
        try! ChannelName(validating: text, maxBytes: 256)
    }

    @Test func aDecisionIsCachedForItsTTLThenAskedAgain() async throws {
        let application = FakeApplication { _ in (200, #"{"allow": true, "ttl": 60}"#) }
        let clock = TestClock()
        let authorizer = Self.authorizer(application, clock: clock)
        #expect(try await authorizer.decide(Self.question()).get().decisions.values.first?.allowed == true)
        #expect(authorizer.cachedOutcome(Self.question()) != nil)
        _ = await authorizer.decide(Self.question())
        #expect(application.questions.count == 1)
        clock.advance(.seconds(61))
        #expect(authorizer.cachedOutcome(Self.question()) == nil)
        _ = await authorizer.decide(Self.question())
        #expect(application.questions.count == 2)
    }

    @Test func differentCredentialsNeverShareADecision() async throws {
        let application = FakeApplication { body in
            body.contains("user=alice") ? (200, #"{"allow": true, "ttl": 60}"#) : (403, "who are you?")
        }
        let authorizer = Self.authorizer(application)
        #expect(try await authorizer.decide(Self.question(cookie: "user=alice")).get().firstRefused([]) == nil)
        let mallory = try await authorizer.decide(Self.question(cookie: "user=mallory")).get()
        #expect(mallory.decisions[Self.name("a")]?.allowed == false)
        #expect(mallory.decisions[Self.name("a")]?.reason == "who are you?")
        // The same cookie from another origin, a token, an anonymous client: each is asked.
        _ = await authorizer.decide(Self.question(cookie: "user=alice", origin: "https://evil.example"))
        _ = await authorizer.decide(Self.question(token: "user=alice"))
        _ = await authorizer.decide(Self.question())
        #expect(application.questions.count == 5)
        // Length-prefixed parts: moving bytes from one part to the next is another asker.
        let one = AuthQuestion.fingerprint(headers: [("cookie", "ab")], token: "c", origin: nil)
        let two = AuthQuestion.fingerprint(headers: [("cookie", "a")], token: "bc", origin: nil)
        #expect(one != two)
    }

    @Test func identicalQuestionsAskedAtOnceAreOneRequest() async throws {
        let application = FakeApplication(holding: true) { _ in (200, #"{"allow": true, "ttl": 60}"#) }
        let authorizer = Self.authorizer(application)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 {
                group.addTask { try await authorizer.decide(Self.question()).get().decisions.count == 1 }
            }
            while application.waiting == 0 || authorizer.counts.coalesced < 99 { await Task.yield() }
            application.release()
            for try await answered in group { #expect(answered) }
        }
        #expect(application.questions.count == 1)
        #expect(authorizer.counts.coalesced == 99)
    }

    @Test func fiftyChannelsAreOneQuestionAndOnlyTheUncachedAreAsked() async throws {
        let application = FakeApplication { _ in (200, #"{"allow": true, "ttl": 60}"#) }
        let authorizer = Self.authorizer(application)
        let fifty = (0..<50).map { "c\($0)" }
        #expect(try await authorizer.decide(Self.question(.subscribe, fifty)).get().decisions.count == 50)
        #expect(application.questions.count == 1)
        _ = await authorizer.decide(Self.question(.subscribe, ["c1", "new"]))
        #expect(application.questions.count == 2)
        #expect(application.questions[1].contains(#""channels": ["new"]"#))
    }

    @Test func perChannelOverridesAndPresenceIdentity() async throws {
        let application = FakeApplication { _ in
            (
                200,
                #"{"allow": true, "ttl": 5, "user": "u1", "info": {"name": "Ada"}, "#
                    + #""channels": {"b": {"allow": false, "reason": "not a\nmember"}}}"#
            )
        }
        let outcome = try await Self.authorizer(application).decide(Self.question(.subscribe, ["a", "b"])).get()
        let refused = try #require(outcome.firstRefused([Self.name("a"), Self.name("b")]))
        #expect(refused.0 == Self.name("b"))
        #expect(refused.1.refusal(refused.0).reason == "b: not a member")
        #expect(outcome.member([Self.name("a")])?.user == "u1")
    }

    @Test func aPublishsReplacementIsReadAndNotCached() async throws {
        let application = FakeApplication { _ in
            (200, #"{"allow": true, "ttl": 60, "data": "aGk=", "encoding": "base64"}"#)
        }
        let authorizer = Self.authorizer(application)
        let outcome = try await authorizer.decide(Self.question(.publish, data: "hello")).get()
        #expect(outcome.replacement.map { String(buffer: $0.data) } == "hi")
        #expect(outcome.replacement?.isBinary == true)
        #expect(application.questions[0].contains(#""data": "hello""#))
        #expect(authorizer.cachedOutcome(Self.question(.publish, data: "hello")) == nil)
    }

    /// Fail closed: whatever is not a readable 200 or 403 is a 503 with a one-line reason, and is not cached.
    @Test(arguments: [
        (500, "oops", "answered 500"),
        (302, "", "answered 302"),
        (200, "<html>", "not JSON"),
        (200, "[true]", "not a JSON object"),
        (200, #"{"ttl": 5}"#, "no 'allow'"),
        (200, #"{"allow": "yes"}"#, "no 'allow'"),
        (200, String(repeating: "[", count: 20_000), "not JSON"),
        (200, #"{"allow": true, "reason": ""# + String(repeating: "x", count: 1 << 20) + #""}"#, "larger than"),
        (
            200, #"{"allow": true, "user": "u", "info": {"a": ""# + String(repeating: "x", count: 2000) + #""}}"#,
            "'info'"
        ),
    ])
    func anUnreadableAnswerRefusesWith503(status: Int, body: String, reason: String) async throws {
        let application = FakeApplication { _ in (status, body) }
        let authorizer = Self.authorizer(application)
        let result = await authorizer.decide(Self.question())
        guard case .failure(let error) = result else {
            Issue.record("\(status) \(body.prefix(40)) was accepted")
            return
        }
        #expect(error.status == .serviceUnavailable)
        #expect(error.reason.contains(reason), "\(error.reason)")
        #expect(!error.reason.contains("\n"))
        #expect(error.reason.utf8.count < 300)
        _ = await authorizer.decide(Self.question())
        #expect(application.questions.count == 2, "a failure is not cached")
    }

    /// At the deadline River answers without waiting for the transport, which here holds its
    /// answer ("allow") until the decision is in: only the deadline can end the wait, and if it
    /// never fires the time limit fails the test. (A timer releasing the answer raced the
    /// deadline on a loaded CI machine, where `decide` started more than 3 s late.)
    @Test(.timeLimit(.minutes(1))) func noAnswerWithinTheTimeoutIs503AtTheDeadline() async throws {
        let application = FakeApplication(holding: true) { _ in (200, #"{"allow": true}"#) }
        let authorizer = Self.authorizer(application, timeout: .milliseconds(200))
        let started = ContinuousClock.now
        let result = await authorizer.decide(Self.question())
        let waited = ContinuousClock.now - started
        #expect(application.waiting == 1, "the question was asked and is still unanswered")
        application.release()
        guard case .failure(let error) = result else {
            Issue.record("a silent application allowed")
            return
        }
        #expect(error.status == .serviceUnavailable)
        #expect(error.reason.contains("within 200 ms"))
        // How late past 200 ms depends on a loaded machine's scheduler, so only the lower
        // bound is checked.
        #expect(waited >= .milliseconds(200), "\(waited)")
    }

    @Test func beyondMaxInFlightIsRefusedAtOnce() async throws {
        let application = FakeApplication(holding: true) { _ in (200, #"{"allow": true}"#) }
        let authorizer = Self.authorizer(application, maxInFlight: 2)
        async let first = authorizer.decide(Self.question(.subscribe, ["a"]))
        async let second = authorizer.decide(Self.question(.subscribe, ["b"]))
        while application.waiting < 2 { await Task.yield() }
        let third = await authorizer.decide(Self.question(.subscribe, ["c"]))
        guard case .failure(let error) = third else {
            Issue.record("a third question was asked")
            return
        }
        #expect(error.status == .serviceUnavailable)
        #expect(error.reason.contains("auth_max_in_flight"))
        application.release()
        #expect((try? await first.get()) != nil)
        #expect((try? await second.get()) != nil)
        #expect(authorizer.counts.overloaded == 1)
    }

    @Test func aRefusalIsCachedForItsTTLButNotWithoutOne() async throws {
        let application = FakeApplication { body in
            body.contains("\"x\"") ? (403, #"{"reason": "no", "ttl": 30}"#) : (403, "no")
        }
        let authorizer = Self.authorizer(application)
        _ = await authorizer.decide(Self.question(.subscribe, ["x"]))
        _ = await authorizer.decide(Self.question(.subscribe, ["x"]))
        _ = await authorizer.decide(Self.question(.subscribe, ["y"]))
        _ = await authorizer.decide(Self.question(.subscribe, ["y"]))
        #expect(application.questions.count == 3)
    }

    @Test func theCacheIsBoundedLeastRecentlyUsedFirst() {
        var cache = DecisionCache(capacity: 2)
        let now = NIODeadline.uptimeNanoseconds(0)
        func key(_ name: String) -> DecisionKey {
            DecisionKey(
                fingerprint: AuthQuestion.fingerprint(headers: [], token: name, origin: nil),
                action: .subscribe,
                channel: nil
            )
        }
        let allowed = ChannelDecision(allowed: true, ttl: 60)
        cache.store(allowed, for: key("a"), expires: now + .seconds(60))
        cache.store(allowed, for: key("b"), expires: now + .seconds(60))
        _ = cache.decision(for: key("a"), now: now)
        cache.store(allowed, for: key("c"), expires: now + .seconds(60))
        #expect(cache.count == 2)
        #expect(cache.decision(for: key("b"), now: now) == nil)
        #expect(cache.decision(for: key("a"), now: now) != nil)
        #expect(cache.decision(for: key("c"), now: now + .seconds(61)) == nil)
    }

    /// Forwarded values go inside the JSON, escaped: a value cannot add a header or a field.
    @Test func forwardedValuesStayInsideTheJSON() throws {
        let question = Self.question(cookie: "a=1\r\nX-Admin: yes\", \"claims\": {\"admin\": true}")
        let json = String(buffer: question.json())
        let parsed = try JSONParser.parse(Array(json.utf8), maxDepth: 8)
        #expect(parsed["claims"] == nil)
        #expect(parsed["headers"]?["cookie"] == .string("a=1\r\nX-Admin: yes\", \"claims\": {\"admin\": true}"))
    }
}
