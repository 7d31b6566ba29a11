import Foundation
import RiverTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension MachineLoadTests {
    /// `max_memory` against a flood of distinct channels, on the `river` process's memory (MemoryBoundTests' attack).
    @Suite struct MaxMemoryFloodTests {
        /// The attack: one byte to each of 200,000 distinct channels under
        /// `max_memory 1m`, against the real process. Before, channel records were
        /// free and lived 60 s: +75 MB. Now the process stays within a few MB of
        /// the bound, and every publish is answered.
        @Test func twoHundredThousandChannelsStayWithinMaxMemory() async throws {
            try await RiverProcess.with(["--threads", "2", "--max-memory", "1m"]) { river in
                try await self.publishToTwoHundredThousandChannels(river)
            }
        }

        func publishToTwoHundredThousandChannels(_ river: RiverProcess) async throws {
            let port = river.port
            let idle = try river.residentKiB()
            // Warm up the connections, allocator and tables, then measure from there.
            try await Self.publishToDistinctChannels(port: port, range: 0..<2_000, connections: 2)
            let baseline = try river.residentKiB()
            let start = ContinuousClock.now
            let peak = Mutex(baseline)
            let pid = river.process.processIdentifier
            try await Self.publishToDistinctChannels(port: port, range: 2_000..<202_000, connections: 2) {
                let resident = (try? residentKiB(pid: pid)) ?? 0
                peak.withLock { $0 = max($0, resident) }
            }
            let elapsed = ContinuousClock.now - start
            let grown = peak.withLock { $0 } - baseline
            let statistics = try await TestConnection.request(port: port, "GET", "/stats").body
            let object = try JSONSerialization.jsonObject(with: Data(statistics.utf8)) as? [String: Any] ?? [:]
            let channels = object["channels"] as? Int ?? -1
            print(
                "200,000 channels under max_memory 1m: RSS idle \(idle) KiB, warmed up \(baseline) KiB,",
                "peak \(baseline + grown) KiB (+\(grown) KiB), \(channels) channels held, \(elapsed)"
            )
            #expect(channels > 0 && channels <= 1024, "max_channels defaults to max_memory / 1 KiB")
            #expect(grown < 1024 + 4096, "RSS grew \(grown) KiB under max_memory 1m")
        }

        /// Publishes one byte to `c<index>` for every index, pipelined in batches
        /// on `connections` keep-alive connections (live, through SwiftNIO); every
        /// answer must be 200. `sample` runs after each batch.
        static func publishToDistinctChannels(
            port: Int,
            range: Range<Int>,
            connections: Int,
            sample: @escaping @Sendable () -> Void = {}
        ) async throws {
            let batch = 1000
            let failures = await withTaskGroup(of: Int.self) { group in
                for part in 0..<connections {
                    group.addTask {
                        do {
                            return try await Self.publishBatches(
                                port: port,
                                range: range,
                                first: range.lowerBound + part * batch,
                                stride: connections * batch,
                                batch: batch,
                                sample: sample
                            )
                        } catch {
                            return 1_000_000
                        }
                    }
                }
                return await group.reduce(0, +)
            }
            #expect(failures == 0, "every publish is answered 200")
        }

        /// One connection's share: batches from `first`, every `stride`; returns how many answers were not 200.
        static func publishBatches(
            port: Int,
            range: Range<Int>,
            first: Int,
            stride: Int,
            batch: Int,
            sample: @Sendable () -> Void
        ) async throws -> Int {
            let connection = try await TestConnection.live(port: port)
            var failures = 0
            var index = first
            while index < range.upperBound {
                let end = min(index + batch, range.upperBound)
                var requests: [UInt8] = []
                requests.reserveCapacity((end - index) * 64)
                for channel in index..<end {
                    requests += Self.requestHead
                    requests += Array(String(channel).utf8)
                    requests += Self.requestTail
                }
                try await connection.send(requests)
                let (answered, ok) = try await connection.countResponses(end - index)
                failures += answered - ok
                sample()
                index += stride
            }
            await connection.close()
            return failures
        }

        static let requestHead = Array("GET /publish?name=c".utf8)
        static let requestTail = Array("&data=x HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
    }
}

extension TestConnection {
    /// Reads `count` pipelined answers to `/publish` (small, Content-Length
    /// framed, each ending with its JSON body's `}`) by finding their status
    /// lines with `memchr`, far cheaper than parsing each; returns how many
    /// arrived and how many were 200.
    fileprivate func countResponses(_ count: Int) async throws -> (answered: Int, ok: Int) {
        let statusLine = Array("HTTP/1.1 ".utf8)
        var answered = 0
        var ok = 0
        var pending: [UInt8] = []
        while answered < count {
            pending += try await self.readSome()
            guard let lastEnd = pending.lastIndex(of: UInt8(ascii: "}")) else { continue }
            pending.withUnsafeBytes { bytes in
                let base = bytes.baseAddress!
                var offset = 0
                while offset < lastEnd, let found = memchr(base + offset, Int32(UInt8(ascii: "H")), lastEnd - offset) {
                    let start = base.distance(to: UnsafeRawPointer(found))
                    offset = start + 1
                    guard start + statusLine.count + 3 <= lastEnd,
                        memcmp(base + start, statusLine, statusLine.count) == 0
                    else { continue }
                    answered += 1
                    if memcmp(base + start + statusLine.count, "200", 3) == 0 { ok += 1 }
                    offset = start + statusLine.count
                }
            }
            pending.removeFirst(lastEnd + 1)
        }
        return (answered, ok)
    }
}
