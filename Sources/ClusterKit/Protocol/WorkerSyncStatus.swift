import Foundation

/// What the master keeps about each worker's synchronisations, in the shape the reference's
/// health reports them (wire/sync §7.3–7.4). Dates are `ClusterDate` strings or `n/a`.
public struct WorkerSyncStatus: Sendable, Equatable {
    public var syncIntegrityFree = true
    public var integrityCheckStart = ClusterDate.never
    public var integrityCheckEnd = ClusterDate.never
    public var integritySyncStart = ClusterDate.never
    public var integritySyncEnd = ClusterDate.never
    public var filesMissing = 0
    public var filesShared = 0
    public var filesExtra = 0
    public var syncAgentInfoFree = true
    public var agentInfoStart = ClusterDate.never
    public var agentInfoEnd = ClusterDate.never
    public var agentInfoChunks = 0
    public var agentGroupsStart = ClusterDate.never
    public var agentGroupsEnd = ClusterDate.never
    public var agentGroupsChunks = 0
    public var agentGroupsFullStart = ClusterDate.never
    public var agentGroupsFullEnd = ClusterDate.never
    public var agentGroupsFullChunks = 0
    public var lastKeepAlive = ClusterDate.never

    public init() {}

    /// The `status` object of a worker in `get_health`, keys in the reference's order.
    public var json: JSON {
        [
            "sync_integrity_free": .bool(syncIntegrityFree),
            "last_check_integrity": ["date_start_master": .string(integrityCheckStart), "date_end_master": .string(integrityCheckEnd)],
            "last_sync_integrity": [
                "date_start_master": .string(integritySyncStart), "date_end_master": .string(integritySyncEnd),
                "total_extra_valid": 0,
                "total_files": ["missing": .int(Int64(filesMissing)), "shared": .int(Int64(filesShared)),
                                "extra": .int(Int64(filesExtra)), "extra_valid": 0],
            ],
            "sync_agent_info_free": .bool(syncAgentInfoFree),
            "last_sync_agentinfo": ["date_start_master": .string(agentInfoStart), "date_end_master": .string(agentInfoEnd),
                                    "n_synced_chunks": .int(Int64(agentInfoChunks))],
            "last_sync_agentgroup": ["date_start": .string(agentGroupsStart), "date_end": .string(agentGroupsEnd),
                                     "n_synced_chunks": .int(Int64(agentGroupsChunks))],
            "last_sync_full_agentgroup": ["date_start": .string(agentGroupsFullStart), "date_end": .string(agentGroupsFullEnd),
                                          "n_synced_chunks": .int(Int64(agentGroupsFullChunks))],
            "last_keep_alive": .string(lastKeepAlive),
        ]
    }
}

/// `get_health`: `{"n_connected_nodes": n, "nodes": {name: {"info": {...}, "status": {...}}}}`.
/// The filter is the reference's: null (everything), `{}` (all workers, no master) or a list of
/// names (those workers, and the master if named).
public enum HealthReport {
    public struct Node: Sendable {
        public var info: NodeInfo
        public var activeAgents: Int
        public var status: WorkerSyncStatus?
        public init(info: NodeInfo, activeAgents: Int, status: WorkerSyncStatus?) {
            self.info = info
            self.activeAgents = activeAgents
            self.status = status
        }
    }

    public static func build(master: Node, workers: [Node], filter: JSON?) -> JSON {
        var names: [String]? = nil
        var includeMaster = true
        switch filter {
        case nil, .null?: break
        case .object?: includeMaster = false
        case .array(let a)?:
            names = a.compactMap(\.stringValue)
            includeMaster = names!.contains(master.info.name)
        case .string(let s)?:
            names = [s]
            includeMaster = s == master.info.name
        default: break
        }
        var nodes = JSONObject()
        let chosen = workers.filter { names == nil || names!.contains($0.info.name) }
        for w in chosen { nodes[w.info.name] = entry(w) }
        if includeMaster { nodes[master.info.name] = entry(master) }
        return ["n_connected_nodes": .int(Int64(chosen.count)), "nodes": .object(nodes)]
    }

    static func entry(_ n: Node) -> JSON {
        var info = n.info.json
        info["n_active_agents"] = .int(Int64(n.activeAgents))
        var o: JSON = ["info": info]
        if let s = n.status { o["status"] = s.json }
        return o
    }

    /// What `cluster_control -i` prints for this health answer.
    public static func table(_ health: JSON, clusterName: String) -> String {
        var out = "Cluster name: \(clusterName)\n\n"
        let nodes = health["nodes"]?.objectValue ?? JSONObject()
        let workers = nodes.keys.sorted().filter { nodes[$0]?["status"] != nil }
        out += "Last completed synchronization for connected nodes (\(health["n_connected_nodes"]?.intValue ?? 0)):\n"
        for name in workers {
            let n = nodes[name]!
            let s = n["status"]!
            func d(_ a: String, _ b: String) -> String { s[a]?[b]?.stringValue ?? ClusterDate.never }
            out += "    \(name) (\(n["info"]?["ip"]?.stringValue ?? "")): Integrity check: \(d("last_check_integrity", "date_end_master")) | Integrity sync: \(d("last_sync_integrity", "date_end_master")) | Agents-info: \(d("last_sync_agentinfo", "date_end_master")) | Agent-groups: \(d("last_sync_agentgroup", "date_end")) | Agent-groups full: \(d("last_sync_full_agentgroup", "date_end")) | Last keep alive: \(s["last_keep_alive"]?.stringValue ?? ClusterDate.never).\n"
        }
        // Ours, under failover: this master's role, and why it is not leading when it is not.
        if let ha = health["ha"], let role = ha["role"]?.stringValue {
            out += "\nFailover: \(role)" + (ha["note"]?.stringValue.map { " (\($0))" } ?? "") + ".\n"
        }
        return out + "\n"
    }

    /// What `cluster_control -l` prints: left-aligned columns padded to the longest cell + 2.
    public static func nodesTable(_ nodes: JSON) -> String {
        let rows: [[String]] = [["NAME", "TYPE", "VERSION", "ADDRESS"]] + (nodes["items"]?.arrayValue ?? []).map { item in
            ["name", "type", "version", "ip"].map { item[$0]?.stringValue ?? "unknown" }
        }
        return table(rows)
    }

    public static func table(_ rows: [[String]]) -> String {
        guard let width = rows.first?.count else { return "" }
        let widths = (0..<width).map { c in rows.map { $0[c].count }.max()! + 2 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
