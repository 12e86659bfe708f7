/// Every key of our `cluster.json`: its type, default, range, unit and meaning.
///
/// This table is the one definition of the configuration's keys. `ConfigReader` takes each key's
/// default and range from it and refuses any key it does not list (suggesting the closest one);
/// `cl-master --dump-config-schema` prints it as JSON, from which `bin/gen-docs` writes
/// cluster.json(5). A key the reader asks for that is not here stops the program (a programming
/// error the tests catch at once).
public struct ConfigKey: Sendable {
    public enum ValueType: String, Sendable {
        case object, string, integer, number, boolean
        /// A number of seconds, integer or fraction.
        case seconds
        /// `HOST`, `HOST:PORT` or `[V6]:PORT`.
        case hostPort = "host[:port]"
        /// A path: relative ones are resolved as the key's summary says.
        case path
        /// One `host[:port]`, or a list of them.
        case hostPorts = "host[:port] or list"
        /// A list of strings.
        case strings = "list of strings"
    }

    /// The dotted key, e.g. `intervals.worker.sync_integrity`.
    public let path: String
    public let type: ValueType
    /// The value taken when the key is left out (nil: none; see `required`).
    public let defaultValue: JSON?
    public let minimum: Double?
    public let maximum: Double?
    /// The unit of a number, e.g. `bytes` (seconds are implied by the type).
    public let unit: String?
    /// When the key must be given (nil: optional).
    public let required: String?
    public let summary: String

    init(_ path: String, _ type: ValueType, default d: JSON? = nil, range: ClosedRange<Double>? = nil,
         unit: String? = nil, required: String? = nil, _ summary: String) {
        self.path = path
        self.type = type
        self.defaultValue = d
        self.minimum = range?.lowerBound
        self.maximum = range?.upperBound
        self.unit = unit ?? (type == .seconds ? "seconds" : nil)
        self.required = required
        self.summary = summary
    }

    /// What a running daemon re-reads on SIGHUP: `intervals` and `limits`. Everything else takes
    /// a restart.
    public var reloadable: Bool { path.hasPrefix("intervals.") || path.hasPrefix("limits.") || path == "intervals" || path == "limits" }

    /// The section the key belongs to ("" for a top-level key) and its own name.
    public var parent: String { path.split(separator: ".").dropLast().joined(separator: ".") }
    public var name: String { String(path.split(separator: ".").last ?? "") }

    public var range: ClosedRange<Double>? {
        guard let minimum, let maximum else { return nil }
        return minimum...maximum
    }

    public func toJSON() -> JSON {
        var o = JSONObject()
        o["key"] = .string(path)
        o["type"] = .string(type.rawValue)
        if let defaultValue { o["default"] = defaultValue }
        if let minimum { o["minimum"] = Self.number(minimum) }
        if let maximum { o["maximum"] = Self.number(maximum) }
        if let unit { o["unit"] = .string(unit) }
        if let required { o["required"] = .string(required) }
        o["reload"] = .bool(reloadable)
        o["summary"] = .string(summary)
        return .object(o)
    }

    static func number(_ x: Double) -> JSON { x.rounded() == x && abs(x) < 9e15 ? .int(Int64(x)) : .double(x) }
}

/// One field of a `files` rule.
public struct FileRuleField: Sendable {
    public let name: String
    public let type: String
    public let defaultText: String
    public let summary: String
}

public enum ConfigSchema {
    static let seconds: ClosedRange<Double> = 0.001...31_536_000

    public static let keys: [ConfigKey] = [
        ConfigKey("cluster", .object, required: "yes", "The cluster this node belongs to."),
        ConfigKey("cluster.name", .string, required: "yes",
                  "The cluster's name; every node of a cluster gives the same. Letters, digits, '-', '_' and '.'."),
        ConfigKey("cluster.key", .string, required: "this or cluster.key_file",
                  "The cluster key: 32 characters, as the reference's <key>, or a 44-character Fernet key. Prefer key_file, which keeps the key out of the configuration."),
        ConfigKey("cluster.key_file", .path, required: "this or cluster.key",
                  "A file holding the cluster key (cl-crypt keygen writes one); relative to the configuration file's directory."),
        ConfigKey("cluster.compat_version", .string, default: .string(ToolVersion.compatVersion),
                  "The Wazuh version this node announces in hello; masters and workers of one cluster must agree."),

        ConfigKey("node", .object, required: "yes", "This node."),
        ConfigKey("node.name", .string, required: "yes", "This node's name, unique in the cluster."),
        ConfigKey("node.type", .string, required: "yes", "master or worker (client is taken as worker)."),
        ConfigKey("node.root", .path, required: "yes",
                  "The installation root (the reference's WAZUH_PATH): the synced files, var/db/agents.db, logs/cluster.log and the local socket live under it. Relative to the configuration file's directory."),
        ConfigKey("node.bind", .string, default: "0.0.0.0", "The address the master listens on."),
        ConfigKey("node.port", .integer, default: 1516, range: 0...65535,
                  "The master's port (0: the system chooses; see var/run/cl-master.json). A worker uses it as the master's port when node.master names none."),
        ConfigKey("node.master", .hostPorts, required: "on a worker",
                  "The master's HOST[:PORT], or a list of them (masters under failover, see ha): a worker tries them in turn until one accepts; only the leader listens. On a master, the address it reports for itself (the first)."),
        ConfigKey("node.local_socket", .path, default: "queue/cluster/c-internal.sock",
                  "The local socket the command-line queries use, relative to node.root, without '..'."),

        ConfigKey("files", .object, "The file rules: which directories are synced from the master, and how (see FILE RULES). Left out, the reference's rules apply."),

        ConfigKey("intervals", .object, "Timers and transfer sizes, with the reference's names and defaults."),
        ConfigKey("intervals.worker", .object, "The worker's timers."),
        ConfigKey("intervals.worker.sync_integrity", .seconds, default: 9, range: seconds,
                  "How often the worker checks its files' integrity with the master."),
        ConfigKey("intervals.worker.sync_agent_info", .seconds, default: 10, range: seconds,
                  "How often the worker pushes its changed agents to the master."),
        ConfigKey("intervals.worker.agent_info_change_delay", .seconds, default: 0.5, range: 0...86_400,
                  "How soon after an agent changes the worker pushes it (0: only every sync_agent_info). Ours."),
        ConfigKey("intervals.worker.sync_agent_groups", .seconds, default: 30, range: seconds,
                  "Accepted for compatibility; unused, as in the reference."),
        ConfigKey("intervals.worker.timeout_agent_groups", .seconds, default: 40, range: seconds,
                  "How long the worker waits for the master's agent groups before it asks for a full sync."),
        ConfigKey("intervals.worker.keep_alive", .seconds, default: 60, range: seconds,
                  "How often the worker sends a keepalive."),
        ConfigKey("intervals.worker.connection_retry", .seconds, default: 10, range: seconds,
                  "The first delay before reconnecting to the master; it doubles, with jitter, up to connection_retry_max."),
        ConfigKey("intervals.worker.connection_retry_max", .seconds, default: 300, range: seconds,
                  "The longest delay between reconnections; not below connection_retry. Ours."),
        ConfigKey("intervals.worker.max_failed_keepalive_attempts", .integer, default: 2, range: 1...1000,
                  "Keepalives that may go unanswered before the worker reconnects."),
        ConfigKey("intervals.worker.agent_groups_mismatch_limit", .integer, default: 5, range: 1...100_000,
                  "Agent-groups checksum mismatches in a row before the worker asks for a full sync."),
        ConfigKey("intervals.master", .object, "The master's timers."),
        ConfigKey("intervals.master.process_pool_size", .integer, default: 2, range: 1...64,
                  "Threads for the master's heavy work (scans, packing)."),
        ConfigKey("intervals.master.sync_agent_groups", .seconds, default: 10, range: seconds,
                  "How often the master sends agent-groups changes to the workers."),
        ConfigKey("intervals.master.timeout_extra_valid", .seconds, default: 40, range: seconds,
                  "Accepted for compatibility; unused, as in the reference."),
        ConfigKey("intervals.master.recalculate_integrity", .seconds, default: 8, range: seconds,
                  "How often the master recalculates its files' integrity."),
        ConfigKey("intervals.master.watch_integrity", .boolean, default: true,
                  "Watch the synced directories (inotify) so that a recalculation reads only what changed; false walks the whole tree every time. Ours."),
        ConfigKey("intervals.master.full_integrity_walk", .seconds, default: 600, range: 1...31_536_000,
                  "While watching, a full walk this often anyway, as a safety net. Ours."),
        ConfigKey("intervals.master.timeout_agent_info", .seconds, default: 40, range: seconds,
                  "How long the master waits for a worker's agent-info push to finish."),
        ConfigKey("intervals.master.agent_group_start_delay", .seconds, default: 30, range: 0...86_400,
                  "Delay after start before the master first sends agent groups."),
        ConfigKey("intervals.master.check_worker_lastkeepalive", .seconds, default: 60, range: seconds,
                  "How often the master checks its workers' last keepalive."),
        ConfigKey("intervals.master.max_allowed_time_without_keepalive", .seconds, default: 120, range: seconds,
                  "A worker silent this long is disconnected."),
        ConfigKey("intervals.master.max_locked_integrity_time", .seconds, default: 1000, range: seconds,
                  "The longest a worker may hold the integrity-sync permission."),
        ConfigKey("intervals.communication", .object, "Requests and transfers between nodes."),
        ConfigKey("intervals.communication.timeout_cluster_request", .seconds, default: 20, range: seconds,
                  "How long a node waits for the answer to a cluster request."),
        ConfigKey("intervals.communication.timeout_dapi_request", .seconds, default: 200, range: seconds,
                  "How long a distributed API request may take across the cluster."),
        ConfigKey("intervals.communication.timeout_receiving_file", .seconds, default: 120, range: seconds,
                  "A transfer that sends nothing for this long is abandoned."),
        ConfigKey("intervals.communication.max_zip_size", .integer, default: 1_073_741_824, range: 1...1_099_511_627_776, unit: "bytes",
                  "The largest container the adaptive size limit may reach."),
        ConfigKey("intervals.communication.min_zip_size", .integer, default: 31_457_280, range: 1...1_099_511_627_776, unit: "bytes",
                  "The smallest container limit; not above max_zip_size."),
        ConfigKey("intervals.communication.compress_level", .integer, default: 1, range: 0...9,
                  "zlib level for containers."),
        ConfigKey("intervals.communication.zip_limit_tolerance", .number, default: .double(0.2), range: 0...0.99,
                  "How much the container limit shrinks after a transfer timed out, or grows after one that went well (a fraction)."),
        ConfigKey("intervals.distributed_api", .object, "Accepted for compatibility with the reference's cluster.json; the distributed API is always on (its bounds are under limits)."),
        ConfigKey("intervals.distributed_api.enabled", .boolean, default: true, "Accepted for compatibility; ignored."),

        ConfigKey("ha", .object, "Master failover on etcd (see docs/HA.md). On a master: it campaigns for leadership and listens on node.port only while it leads. On a worker: it asks etcd which master leads before it connects. Left out: one master, no etcd."),
        ConfigKey("ha.etcd", .strings, required: "to use ha",
                  "etcd's client URLs (http://HOST:PORT, or HOST:PORT), tried in turn; the v3 JSON gateway is used."),
        ConfigKey("ha.election", .string, "The election's name in etcd; every master of the cluster gives the same. Default: clustertools/<cluster.name>/master."),
        ConfigKey("ha.lease_ttl", .seconds, default: 10, range: 2...300,
                  "The leader's lease: a leader that could not renew it for half of this stops serving; a follower takes over once it expires."),
        ConfigKey("ha.advertise", .hostPort,
                  "HOST:PORT that workers and followers use to reach this master when it leads (stored in etcd). Default: the first node.master, else node.bind, with node.port."),

        ConfigKey("metrics", .object, "The optional HTTP listener for Prometheus (see docs/MONITORING.md)."),
        ConfigKey("metrics.listen", .hostPort, "HOST:PORT of the listener serving GET /metrics and GET /healthz (port 0: the system chooses, logged at start). Left out, no listener: metrics are off."),

        ConfigKey("limits", .object, "Bounds on what a peer can make a node hold or do (ours)."),
        ConfigKey("limits.max_frame_bytes", .integer, default: 8_388_608, range: 65_536...1_073_741_824, unit: "bytes",
                  "One frame's payload, checked at its header before anything is kept."),
        ConfigKey("limits.max_message_bytes", .integer, default: 268_435_456, range: 65_536...17_179_869_184, unit: "bytes",
                  "One reassembled message, and one string."),
        ConfigKey("limits.hello_timeout", .seconds, default: 10, range: seconds,
                  "Time a new connection has to say a valid hello."),
        ConfigKey("limits.max_connections", .integer, default: 4096, range: 1...1_000_000,
                  "Cluster connections at once; more are closed as they are accepted."),
        ConfigKey("limits.max_delete_fraction", .number, default: .double(0.5), range: 0...1,
                  "The share of a rule's files one sync may delete."),
        ConfigKey("limits.max_transfers_per_connection", .integer, default: 64, range: 1...10_000,
                  "Strings and files a peer may have in flight on one connection."),
        ConfigKey("limits.dapi_concurrency", .integer, default: 8, range: 1...1024,
                  "Distributed API requests executed at once (64 per slot may wait)."),
        ConfigKey("limits.max_buffered_bytes", .integer, default: 335_544_320, range: 1_048_576...1_099_511_627_776, unit: "bytes",
                  "What all the cluster link's peers together may make the node hold in unfinished frames, divided messages and unclaimed strings."),
        ConfigKey("limits.local_client_bytes", .integer, default: 4_194_304, range: 65_536...1_073_741_824, unit: "bytes",
                  "What one local-socket client may have in flight (a frame, a message, its strings)."),
        ConfigKey("limits.local_idle_timeout", .seconds, default: 30, range: seconds,
                  "A local client holding unfinished data that sends nothing for this long is closed."),
        ConfigKey("limits.max_keepalive_skew", .seconds, default: .double(AgentStore.defaultKeepaliveSkew), range: 0...31_536_000,
                  "How far ahead of the master's clock an agent row's last_keepalive may be; a row further ahead is refused."),
        ConfigKey("limits.sendsync_timeout", .seconds, default: 10, range: seconds,
                  "How long a sendsync exchange with a local daemon may take on the master (connect, request, whole answer); a worker waits this plus timeout_cluster_request for it."),
    ]

    /// The fields of one `files` rule (a key of `files` naming a directory relative to node.root).
    public static let fileRuleFields: [FileRuleField] = [
        FileRuleField(name: "permissions", type: "string or integer", defaultText: "\"0o660\"",
                      summary: "The mode given to every file written for this rule: a Python int(x, 0) string such as \"0o640\", or an integer."),
        FileRuleField(name: "files", type: "list of strings", defaultText: "[\"all\"]",
                      summary: "The file names taken; [\"all\"] takes every file."),
        FileRuleField(name: "recursive", type: "boolean", defaultText: "true", summary: "Whether subdirectories are taken too."),
        FileRuleField(name: "remove_subdirs_if_empty", type: "boolean", defaultText: "false",
                      summary: "After deleting extra files, remove a directory they leave empty."),
        FileRuleField(name: "extra_valid", type: "boolean", defaultText: "false",
                      summary: "Files only the worker has under this rule are kept (false in every stock rule)."),
        FileRuleField(name: "source", type: "string", defaultText: "none", summary: "Kept for round trips; unused, as in the reference."),
        FileRuleField(name: "restart", type: "boolean", defaultText: "none", summary: "Kept for round trips; unused, as in the reference."),
        FileRuleField(name: "description", type: "string", defaultText: "none", summary: "Free text."),
    ]

    /// The two lists of `files` that apply to every rule.
    public static let fileListFields: [FileRuleField] = [
        FileRuleField(name: "excluded_files", type: "list of strings", defaultText: FileRules.referenceExcludedFiles.description,
                      summary: "File names never taken, at any depth."),
        FileRuleField(name: "excluded_extensions", type: "list of strings", defaultText: FileRules.referenceExcludedExtensions.description,
                      summary: "Name endings never taken."),
    ]

    static let byPath: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    public static func key(_ path: String) -> ConfigKey? { byPath[path] }

    /// The keys directly under a section ("" for the top level), in table order.
    public static func children(of section: String) -> [ConfigKey] { keys.filter { $0.parent == section } }

    /// The known key of `section` closest to a mistyped `name`, if one is close enough to be meant.
    public static func suggestion(for name: String, in section: String) -> String? {
        func norm(_ s: String) -> [Character] { Array(s.lowercased().filter { $0 != "_" && $0 != "-" }) }
        let typed = norm(name)
        var best: (String, Int)?
        for k in children(of: section) {
            let d = editDistance(typed, norm(k.name))
            if best == nil || d < best!.1 { best = (k.name, d) }
        }
        guard let (candidate, d) = best, d <= max(1, min(typed.count, candidate.count) / 3) else { return nil }
        return candidate
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }

    /// The whole schema as JSON (`cl-master --dump-config-schema`), read by bin/gen-docs.
    public static func toJSON() -> JSON {
        let rule: ([FileRuleField]) -> JSON = { fields in
            .array(fields.map { ["name": .string($0.name), "type": .string($0.type), "default": .string($0.defaultText),
                                 "summary": .string($0.summary)] })
        }
        return ["keys": .array(keys.map { $0.toJSON() }),
                "file_rule_fields": rule(fileRuleFields),
                "file_list_fields": rule(fileListFields),
                "default_files": FileRules.reference.toJSON()]
    }
}
