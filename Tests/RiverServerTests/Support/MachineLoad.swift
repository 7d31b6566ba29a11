/// Tests that drive a `river` process as hard as the machine allows and
/// judge it by rates or memory (the 200,000-channel attack, the connection
/// churn) take turns: run side by side, each starves the other's figures.
enum MachineLoad {
    private static let turns = Turns()

    /// Runs `body` when no other machine-loading test runs.
    static func exclusively<T>(_ body: () async throws -> T) async throws -> T {
        await Self.turns.acquire()
        do {
            let result = try await body()
            await Self.turns.release()
            return result
        } catch {
            await Self.turns.release()
            throw error
        }
    }

    /// One at a time, first come first served.
    private actor Turns {
        private var busy = false
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            guard self.busy else {
                self.busy = true
                return
            }
            await withCheckedContinuation { self.waiting.append($0) }
        }

        func release() {
            if self.waiting.isEmpty {
                self.busy = false
            } else {
                self.waiting.removeFirst().resume()
            }
        }
    }
}
