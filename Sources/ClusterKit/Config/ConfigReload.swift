/// What re-reading cluster.json on SIGHUP puts in force, and what it reports.
///
/// `intervals` and `limits` are reloaded: every part of the node reads them at each use, so a
/// new value applies from the next cycle, request or connection. The few of them that size
/// something made once at start-up (`restartOnly`), and every other key (`cluster`, `node`,
/// `files`), need a restart: a change to one of them is reported, and the value in force stays.
public struct ConfigReload: Sendable {
    /// One changed key, with its old and new values as they are written in the file
    /// (`(default)` when the key is absent).
    public struct Change: Sendable, Equatable, CustomStringConvertible {
        public let key: String
        public let old: String
        public let new: String
        public var description: String { "\(key) \(old) -> \(new)" }
    }

    /// Keys under `intervals` and `limits` that a reload does not apply.
    public static let restartOnly: Set<String> = [
        "limits.max_connections",          // the listener's bound, fixed when it is bound
        "limits.dapi_concurrency",         // the DAPI thread pool, started once
        "limits.max_buffered_bytes",       // the cluster link's memory budget
        "limits.local_client_bytes",       // the local socket's memory budget
        "intervals.master.watch_integrity",     // the inotify watcher, made once
        "intervals.master.full_integrity_walk", // its safety-net period
    ]

    /// Whether a SIGHUP applies a change to `key` (a dotted path, `intervals.worker.keep_alive`).
    public static func isReloadable(_ key: String) -> Bool {
        (key.hasPrefix("intervals.") || key.hasPrefix("limits.")) && !restartOnly.contains(key)
    }

    /// The configuration to put in force: the one running, with the reloadable keys' new values.
    public let config: ClusterConfig
    /// Reloadable keys whose value changed since the configuration in force.
    public let applied: [Change]
    /// Keys changed since start-up that only a restart applies.
    public let needRestart: [Change]

    /// `start` is the document the node started with, `current` the configuration in force,
    /// `new` the one just read.
    public init(start: JSON, current: ClusterConfig, new: ClusterConfig) {
        var merged = current
        merged.intervals = new.intervals
        merged.limits = new.limits
        merged.limits.maxConnections = current.limits.maxConnections
        merged.limits.dapiConcurrency = current.limits.dapiConcurrency
        merged.limits.maxBufferedBytes = current.limits.maxBufferedBytes
        merged.limits.localClientBytes = current.limits.localClientBytes
        merged.intervals.masterWatchIntegrity = current.intervals.masterWatchIntegrity
        merged.intervals.masterFullIntegrityWalk = current.intervals.masterFullIntegrityWalk
        merged.document = new.document
        config = merged
        applied = ConfigReload.changes(current.document, new.document).filter { ConfigReload.isReloadable($0.key) }
        needRestart = ConfigReload.changes(start, new.document).filter { !ConfigReload.isReloadable($0.key) }
    }

    /// Every leaf key whose value differs between two documents, in key order.
    static func changes(_ a: JSON, _ b: JSON) -> [Change] {
        let old = leaves(a), new = leaves(b)
        return Set(old.keys).union(new.keys).sorted().compactMap { key in
            let o = old[key], n = new[key]
            guard o != n else { return nil }
            return Change(key: key, old: o.map { JSONWriter.compact.string($0) } ?? "(default)",
                          new: n.map { JSONWriter.compact.string($0) } ?? "(default)")
        }
    }

    /// A document's values by dotted key; `files` (the rules) counts as one value.
    static func leaves(_ value: JSON, prefix: String = "") -> [String: JSON] {
        guard prefix != "files", case .object(let o) = value else {
            return prefix.isEmpty || value.isNull ? [:] : [prefix: value]
        }
        var out: [String: JSON] = [:]
        for (k, v) in o { out.merge(leaves(v, prefix: prefix.isEmpty ? k : "\(prefix).\(k)")) { _, new in new } }
        return out
    }
}
