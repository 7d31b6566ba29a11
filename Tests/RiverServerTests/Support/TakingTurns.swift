/// Tests that load the whole machine — the 20,000-connection churn, the
/// multi-process Redis shard and Sentinel set-ups — take turns: run at the
/// same time on two cores, the churn's generator falls behind its rate and
/// a replica cannot sync in time. Every other test still runs alongside.
func takingTurns<Value>(_ body: () async throws -> Value) async throws -> Value {
    await Turns.shared.acquire()
    do {
        let value = try await body()
        await Turns.shared.release()
        return value
    } catch {
        await Turns.shared.release()
        throw error
    }
}

private actor Turns {
    static let shared = Turns()
    private var isTaken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard self.isTaken else {
            self.isTaken = true
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.isTaken = false
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}
