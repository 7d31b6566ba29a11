import NIOConcurrencyHelpers
import NIOCore
import RiverCore

/// Asks the application at `auth_url` (PROTOCOL.md C4), once:
///
/// - **Cache**: each decision (refusals too) is kept for its `ttl` under
///   who asks (`AuthQuestion.Fingerprint`) × action × channel, at most
///   `auth_cache_size` of them, least recently used first out. A question
///   about several channels asks only about those not cached.
/// - **Coalescing**: a question identical to one already waiting for the
///   application (same asker, action, channels, message) waits for that
///   answer instead of asking again.
/// - **Bounded**: at most `auth_max_in_flight` questions wait for the
///   application at once; one more is refused at once (503). Each waits at
///   most `auth_timeout`.
/// - **Fail closed**: no answer in time, a refused connection, a status other
///   than 200 and 403, or an answer that cannot be read refuses with 503 and
///   a one-line reason (`AuthAnswer`), and is not cached.
final class Authorizer: Sendable {
    /// A question on its way to the application, which identical ones wait for.
    private typealias Waiting = Task<Result<AuthOutcome, RequestError>, Never>
    /// The application's status and body.
    private typealias Answer = (status: Int, body: [UInt8])

    private struct State {
        var cache: DecisionCache
        var waiting: [QuestionKey: Waiting] = [:]
        var counts = Counts()
        /// How long the application took to answer each question (timeouts and failures included).
        var latency = LatencyHistogram()
    }

    /// What the authorizer did, for `/stats` and tests.
    struct Counts: Sendable, Equatable {
        /// Questions POSTed to the application.
        var requests: UInt64 = 0
        /// Questions answered wholly from the cache.
        var cacheHits: UInt64 = 0
        /// Questions that waited for an identical one's answer.
        var coalesced: UInt64 = 0
        /// Questions refused because `auth_max_in_flight` were waiting.
        var overloaded: UInt64 = 0
        /// Questions that got no usable answer (503).
        var failures: UInt64 = 0
    }

    private let transport: AuthTransport
    private let timeout: TimeAmount
    private let maxInFlight: Int
    private let maxMessageSize: Int
    private let now: @Sendable () -> NIODeadline
    private let state: NIOLockedValueBox<State>

    init(
        transport: AuthTransport,
        timeout: TimeAmount,
        maxInFlight: Int,
        cacheSize: Int,
        maxMessageSize: Int,
        now: @escaping @Sendable () -> NIODeadline = { .now() }
    ) {
        self.transport = transport
        self.timeout = timeout
        self.maxInFlight = maxInFlight
        self.maxMessageSize = maxMessageSize
        self.now = now
        self.state = NIOLockedValueBox(State(cache: DecisionCache(capacity: cacheSize)))
    }

    /// The authorizer of `configuration` (nil without `auth_url`), asking over HTTP.
    static func make(_ configuration: RiverConfiguration, clock: MonotonicClock = .system) -> Authorizer? {
        guard let url = configuration.authURL else { return nil }
        return Authorizer(
            transport: HTTPAuthTransport(
                url: url,
                timeout: configuration.authTimeout,
                maxConnections: configuration.authMaxInFlight
            ),
            timeout: configuration.authTimeout,
            maxInFlight: configuration.authMaxInFlight,
            cacheSize: configuration.authCacheSize,
            maxMessageSize: configuration.maxMessageSize,
            now: clock.now
        )
    }

    var counts: Counts { self.state.withLockedValue { $0.counts } }

    /// The counts and the application's answer times, for `/stats` and the dashboard.
    var figures: (counts: Counts, latency: LatencyHistogram) {
        self.state.withLockedValue { ($0.counts, $0.latency) }
    }

    /// The whole answer to `question` if every part of it is cached (no I/O: the warm path).
    func cachedOutcome(_ question: AuthQuestion) -> AuthOutcome? {
        let now = self.now()
        return self.state.withLockedValue { state in
            let (outcome, missing) = Self.lookUp(question, in: &state.cache, now: now)
            guard missing.isEmpty, !(question.action == .connect && outcome.connection == nil) else { return nil }
            state.counts.cacheHits += 1
            return outcome
        }
    }

    /// `decide`, completing on `executor`'s loop.
    func decide(
        _ question: AuthQuestion,
        on executor: EventLoopTaskExecutor
    ) -> EventLoopFuture<Result<AuthOutcome, RequestError>> {
        let promise = executor.eventLoop.makePromise(of: Result<AuthOutcome, RequestError>.self)
        Task(executorPreference: executor) {
            promise.succeed(await self.decide(question))
        }
        return promise.futureResult
    }

    /// The application's decisions on `question`: cached, or asked (once for identical questions).
    func decide(_ question: AuthQuestion) async -> Result<AuthOutcome, RequestError> {
        let now = self.now()
        let (cached, asked) = self.state.withLockedValue {
            (state: inout State) -> (AuthOutcome, Result<Waiting?, RequestError>) in
            let (outcome, missing) = Self.lookUp(question, in: &state.cache, now: now)
            let needsConnection = question.action == .connect && outcome.connection == nil
            guard !missing.isEmpty || needsConnection else {
                state.counts.cacheHits += 1
                return (outcome, .success(nil))
            }
            let remaining = question.about(missing)
            let key = QuestionKey(remaining)
            if let waiting = state.waiting[key] {
                state.counts.coalesced += 1
                return (outcome, .success(waiting))
            }
            guard state.waiting.count < self.maxInFlight else {
                state.counts.overloaded += 1
                return (
                    outcome,
                    .failure(
                        .unavailable(
                            "\(self.maxInFlight) questions already wait for the authorization backend (auth_max_in_flight)"
                        )
                    )
                )
            }
            state.counts.requests += 1
            let task = Task { await self.ask(remaining, key: key) }
            state.waiting[key] = task
            return (outcome, .success(task))
        }
        switch asked {
        case .failure(let error):
            return .failure(error)
        case .success(nil):
            return .success(cached)
        case .success(let task?):
            return await task.value.map { fresh in
                var outcome = cached
                outcome.decisions.merge(fresh.decisions) { _, new in new }
                outcome.connection = fresh.connection ?? outcome.connection
                outcome.replacement = fresh.replacement
                return outcome
            }
        }
    }

    /// Forgets every decision.
    func forgetAll() {
        self.state.withLockedValue { $0.cache.removeAll() }
    }

    func shutdown() async {
        await self.transport.shutdown()
    }

    /// POSTs `question`, reads the answer, caches what it says may be kept.
    private func ask(_ question: AuthQuestion, key: QuestionKey) async -> Result<AuthOutcome, RequestError> {
        let asked = self.now()
        let result = await self.answer(to: question)
        let now = self.now()
        self.state.withLockedValue { state in
            state.waiting[key] = nil
            state.latency.record(now - asked)
            guard case .success(let outcome) = result else {
                state.counts.failures += 1
                return
            }
            // A publish whose message the application replaced is decided for that message only.
            guard outcome.replacement == nil else { return }
            if let decision = outcome.connection, let ttl = decision.ttl, ttl > 0 {
                let cacheKey = DecisionKey(fingerprint: question.fingerprint, action: question.action, channel: nil)
                state.cache.store(decision, for: cacheKey, expires: now + .seconds(ttl))
            }
            for (channel, decision) in outcome.decisions {
                guard let ttl = decision.ttl, ttl > 0 else { continue }
                let cacheKey = DecisionKey(fingerprint: question.fingerprint, action: question.action, channel: channel)
                state.cache.store(decision, for: cacheKey, expires: now + .seconds(ttl))
            }
        }
        return result
    }

    /// The answer to `question` within `auth_timeout`, read strictly.
    private func answer(to question: AuthQuestion) async -> Result<AuthOutcome, RequestError> {
        let timeout = self.timeout
        let answer: Answer?
        do {
            answer = try await self.post(question.json()).get()
        } catch {
            return .failure(
                .unavailable("the authorization backend cannot be reached: \(Self.describe(error)) (fail closed)")
            )
        }
        guard let answer else {
            return .failure(
                .unavailable(
                    "the authorization backend did not answer within \(timeout.nanoseconds / 1_000_000) ms"
                        + " (auth_timeout; fail closed)"
                )
            )
        }
        do throws(RequestError) {
            return .success(
                try AuthAnswer.read(
                    status: answer.status,
                    body: answer.body,
                    for: question,
                    maxMessageSize: self.maxMessageSize
                )
            )
        } catch {
            return .failure(error)
        }
    }

    /// The application's answer to `body`, or nil once `auth_timeout` has
    /// passed (the request is then cancelled). The caller is answered at the
    /// deadline even if the transport is slow to notice the cancellation.
    private func post(_ body: ByteBuffer) async -> Result<Answer?, Error> {
        let transport = self.transport
        let timeout = self.timeout
        let waiter = NIOLockedValueBox<CheckedContinuation<Result<Answer?, Error>, Never>?>(nil)
        let request = NIOLockedValueBox<Task<Void, Never>?>(nil)
        /// The first to call this answers; the other finds nobody waiting.
        @Sendable func finish(_ result: Result<Answer?, Error>) -> Bool {
            let continuation = waiter.withLockedValue { waiting in
                defer { waiting = nil }
                return waiting
            }
            continuation?.resume(returning: result)
            return continuation != nil
        }
        return await withCheckedContinuation { continuation in
            waiter.withLockedValue { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(timeout.nanoseconds, 0)))
                guard !Task.isCancelled, finish(.success(nil)) else { return }
                request.withLockedValue { $0 }?.cancel()
            }
            let task = Task {
                do {
                    _ = finish(.success(try await transport.post(body, maxBytes: AuthAnswer.maxBytes)))
                } catch {
                    _ = finish(.failure(error))
                }
                timer.cancel()
            }
            request.withLockedValue { $0 = task }
        }
    }

    /// What is cached of `question`'s decisions, and the channels that are not.
    private static func lookUp(
        _ question: AuthQuestion,
        in cache: inout DecisionCache,
        now: NIODeadline
    ) -> (AuthOutcome, missing: [ChannelName]) {
        var outcome = AuthOutcome()
        var missing: [ChannelName] = []
        if question.action == .connect {
            let key = DecisionKey(fingerprint: question.fingerprint, action: .connect, channel: nil)
            outcome.connection = cache.decision(for: key, now: now)
        }
        for channel in question.channels {
            let key = DecisionKey(fingerprint: question.fingerprint, action: question.action, channel: channel)
            if let decision = cache.decision(for: key, now: now) {
                outcome.decisions[channel] = decision
            } else {
                missing.append(channel)
            }
        }
        return (outcome, missing)
    }

    /// One line naming what went wrong with the connection or the answer.
    private static func describe(_ error: Error) -> String {
        if error is NIOTooManyBytesError { return "its answer is larger than \(AuthAnswer.maxBytes) bytes" }
        return AuthAnswer.oneLine(String(describing: error))
    }
}
