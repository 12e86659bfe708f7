import ClusterKit

/// The `get_config` answer: the reference's `<cluster>` fields, except the key, which the
/// reference hands to any local client and we never do.
enum ConfigSummary {
    static func json(_ c: ClusterConfig) -> JSON {
        var nodes: [JSON] = []
        if let h = c.masterHost { nodes.append(.string(h)) }
        return [
            "name": .string(c.clusterName), "node_name": .string(c.nodeName), "node_type": .string(c.nodeType.rawValue),
            "port": .int(Int64(c.masterPort ?? c.port)), "bind_addr": .string(c.bind), "nodes": .array(nodes),
            "hidden": "no", "disabled": false,
        ]
    }
}
