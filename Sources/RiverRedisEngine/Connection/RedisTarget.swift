/// Where a `RedisClient` connects.
enum RedisTarget: Sendable, CustomStringConvertible {
    /// One Redis.
    case address(RedisAddress)
    /// Any of these, each attempt the next one (the Sentinels of a service).
    case anyOf([RedisAddress])
    /// The master that Sentinel names for one shard, checked with `ROLE` on every connection.
    case master(SentinelWatcher)

    /// The address for connection attempt `attempt` (counting from 1); nil when none is known yet.
    func address(attempt: Int) -> RedisAddress? {
        switch self {
        case .address(let address): return address
        case .anyOf(let addresses): return addresses.isEmpty ? nil : addresses[(attempt - 1) % addresses.count]
        case .master(let watcher): return watcher.master
        }
    }

    var mustBeMaster: Bool {
        if case .master = self { return true }
        return false
    }

    /// What Sentinel last said of this master (nil for a target without Sentinel).
    var sentinelVerdict: SentinelWatcher.Verdict? {
        if case .master(let watcher) = self { return watcher.verdict }
        return nil
    }

    /// A connection found the named master to be a replica: ask Sentinel again.
    func masterIsStale() {
        if case .master(let watcher) = self { watcher.refresh() }
    }

    var description: String {
        switch self {
        case .address(let address): return "\(address)"
        case .anyOf(let addresses): return addresses.map(\.description).joined(separator: ",")
        case .master(let watcher):
            return "master \(watcher.masterName) (\(watcher.master.map(\.description) ?? "unknown"))"
        }
    }
}
