/// `cluster.status`: whether the cluster is enabled and running on this node, as the reference's
/// `get_status_json` answers (`{"enabled": "yes", "running": "yes"}`): a node that answers runs
/// its cluster daemon, and a node of ours always has its cluster enabled.
public struct ClusterStatusOperation: DapiOperation {
    public init() {}
    public var name: String { "cluster.status" }
    public var summary: String { "Whether the cluster is enabled and running on the node." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy { .items(defaultSort: [], tieBreakers: [], alwaysSelected: [], defaultLimit: 500) }
    public var argumentNames: Set<String> { [] }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        DapiResult(items: [["enabled": "yes", "running": "yes"]])
    }
}
