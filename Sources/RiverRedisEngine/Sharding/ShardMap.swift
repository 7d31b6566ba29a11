import RiverCore

/// Which shard holds a channel: Lamping and Veach's jump consistent hash
/// (https://arxiv.org/abs/1406.2294) of the FNV-1a hash of the channel name's
/// UTF-8 bytes (`ChannelName.stableHash`). The same on every node and in
/// every process; appending a shard to a list of N moves about 1/(N+1) of
/// the channels (to the new shard), any other change to the list moves more.
struct ShardMap: Sendable {
    let count: Int

    init(count: Int) {
        precondition(count >= 1, "at least one shard")
        self.count = count
    }

    func shard(of channel: ChannelName) -> Int {
        Self.jump(channel.stableHash, buckets: self.count)
    }

    static func jump(_ key: UInt64, buckets: Int) -> Int {
        var key = key
        var bucket: Int64 = -1
        var next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket &+ 1) * (Double(Int64(1) << 31) / Double((key >> 33) &+ 1)))
        }
        return Int(bucket)
    }
}
