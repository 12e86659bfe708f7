/// `cluster.config`: the node's cluster configuration as the reference's `read_config_wrapper`
/// gives it, except the key, which is never returned.
public struct ClusterConfigOperation: DapiOperation {
    public init() {}
    public var name: String { "cluster.config" }
    public var summary: String { "The node's cluster configuration (never the key)." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy {
        .items(defaultSort: [DapiSortKey("node_name")], tieBreakers: [], alwaysSelected: [], defaultLimit: 500)
    }
    public var argumentNames: Set<String> { DapiPaging.pagingArguments }

    public func validate(_ args: DapiArguments) throws { _ = try DapiPaging(args, strategy: merge) }

    public static func item(_ c: ClusterConfig) -> JSON {
        let nodes: [JSON] = c.masterAddresses.map { .string($0.host) }
        return [
            "name": .string(c.clusterName), "node_name": .string(c.nodeName), "node_type": .string(c.nodeType.rawValue),
            "port": .int(Int64(c.masterPort ?? c.port)), "bind_addr": .string(c.bind), "nodes": .array(nodes),
            "hidden": "no", "disabled": false, "compat_version": .string(c.compatVersion),
        ]
    }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let page = try DapiPaging(args, strategy: merge).page([ClusterConfigOperation.item(node.config)])
        return DapiResult(items: page.items, total: page.total)
    }
}
