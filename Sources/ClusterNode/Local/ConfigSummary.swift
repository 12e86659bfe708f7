import ClusterKit

/// The `get_config` answer: the reference's `<cluster>` fields, except the key, which the
/// reference hands to any local client and we never do.
enum ConfigSummary {
    static func json(_ c: ClusterConfig) -> JSON {
        let nodes: [JSON] = c.masterAddresses.map { .string($0.host) }
        return [
            "name": .string(c.clusterName), "node_name": .string(c.nodeName), "node_type": .string(c.nodeType.rawValue),
            "port": .int(Int64(c.masterPort ?? c.port)), "bind_addr": .string(c.bind), "nodes": .array(nodes),
            "hidden": "no", "disabled": false,
        ]
    }
}
