/// `cluster.health`: the master's health report (what `cl-master health` prints), one item per
/// node sorted by name, as the reference's `get_health_nodes`. `filter_node` narrows it.
public struct ClusterHealthOperation: DapiOperation {
    public init() {}
    public var name: String { "cluster.health" }
    public var summary: String { "Every node's info, active agents and last syncs (master only)." }
    public var placement: DapiPlacement { .master }
    public var defaultRequestType: DapiRequestType { .localMaster }
    public var merge: DapiMergeStrategy { .items(defaultSort: [DapiSortKey("info.name")], tieBreakers: [], alwaysSelected: [], defaultLimit: 500) }
    public var argumentNames: Set<String> { ["filter_node"] }

    public func validate(_ args: DapiArguments) throws { _ = try args.list("filter_node") }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let filter: JSON = try args.list("filter_node").map { .array($0.map(JSON.string)) } ?? .null
        let health = try node.clusterHealth(filter: filter)
        let nodes = health["nodes"]?.objectValue ?? JSONObject()
        let items = nodes.keys.sorted(by: DapiSort.bytesLess).compactMap { nodes[$0] }
        return DapiResult(items: items)
    }
}
