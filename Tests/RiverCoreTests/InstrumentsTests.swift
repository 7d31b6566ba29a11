import NIOCore
import RiverCore
import Testing

/// The dashboard's measures: the heavy-hitters sketch, the table of the
/// largest channels, and the latency histogram.
@Suite struct InstrumentsTests {
    static func name(_ text: String) -> ChannelName { try! ChannelName(validating: text, maxBytes: 256) }

    @Test func heavyHittersKeepTheFrequentChannelsAmongManyInBoundedMemory() {
        var sketch = HeavyHitters(capacity: 8)
        // 100,000 distinct cold channels, one publish each, interleaved with two hot ones.
        for index in 0..<100_000 {
            sketch.add(Self.name("cold-\(index)"))
            if index % 4 == 0 { sketch.add(Self.name("hot-a")) }
            if index % 10 == 0 { sketch.add(Self.name("hot-b"), weight: 2) }
        }
        #expect(sketch.count == 8)
        let top = sketch.top(2)
        #expect(top.map(\.channel) == [Self.name("hot-a"), Self.name("hot-b")])
        // Space-Saving: a counter never underestimates, and overestimates by at most its error.
        #expect(top[0].count >= 25_000 && top[0].count - top[0].error <= 25_000)
        #expect(top[1].count >= 20_000 && top[1].count - top[1].error <= 20_000)
        sketch.removeAll()
        #expect(sketch.count == 0 && sketch.top(5).isEmpty)
    }

    @Test func heavyHittersCountExactlyWhileTheyHaveRoom() {
        var sketch = HeavyHitters(capacity: 4)
        for (channel, times) in [("a", 3), ("b", 1), ("c", 7)] {
            for _ in 0..<times { sketch.add(Self.name(channel)) }
        }
        #expect(sketch.top(10).map { "\($0.channel) \($0.count) \($0.error)" } == ["c 7 0", "a 3 0", "b 1 0"])
    }

    @Test func largestChannelsFollowJoinsAndLeaves() {
        var table = LargestChannels(capacity: 2)
        table.update(Self.name("small"), count: 1)
        table.update(Self.name("big"), count: 10)
        table.update(Self.name("medium"), count: 5)  // replaces "small"
        #expect(table.top(5).map(\.channel) == [Self.name("big"), Self.name("medium")])
        table.update(Self.name("tiny"), count: 2)  // smaller than both: not tracked
        #expect(table.top(5).map(\.count) == [10, 5])
        table.update(Self.name("big"), count: 0)  // everyone left
        #expect(table.top(5).map(\.channel) == [Self.name("medium")])
        table.update(Self.name("tiny"), count: 3)  // room again: its next join enters it
        #expect(table.top(5).map(\.channel) == [Self.name("medium"), Self.name("tiny")])
    }

    @Test func histogramQuantilesAndWindows() {
        var histogram = LatencyHistogram()
        #expect(histogram.quantile(0.5) == nil)
        for _ in 0..<90 { histogram.record(.microseconds(40)) }  // bucket 25...50 µs
        for _ in 0..<10 { histogram.record(.milliseconds(3)) }  // bucket 2.5...5 ms
        #expect(histogram.count == 100)
        let p50 = histogram.quantile(0.5)!
        #expect(p50 > 25_000 && p50 <= 50_000)
        let p99 = histogram.quantile(0.99)!
        #expect(p99 > 2_500_000 && p99 <= 5_000_000)
        let earlier = histogram
        histogram.record(.seconds(60))  // over the last bound: the overflow bucket
        histogram.record(.nanoseconds(-5))  // a clock step back counts as zero
        let window = histogram.subtracting(earlier)
        #expect(window.count == 2)
        #expect(window.quantile(1) == LatencyHistogram.bounds.last)
        #expect(window.quantile(0.5)! <= 25_000)
        #expect(window.sumNanoseconds == 60_000_000_000)
    }
}
