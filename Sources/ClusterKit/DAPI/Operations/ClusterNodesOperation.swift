/// `cluster.nodes`: the cluster's nodes as the master sees them, with the reference's
/// `get_nodes` arguments (`filter_node`, `type`, `search`, `select`, `sort`, `offset`, `limit`,
/// `distinct`). Runs on the master.
public struct ClusterNodesOperation: DapiOperation {
    public init() {}
    public var name: String { "cluster.nodes" }
    public var summary: String { "The cluster's nodes: name, type, version, address (master only)." }
    public var placement: DapiPlacement { .master }
    public var defaultRequestType: DapiRequestType { .localMaster }
    public var merge: DapiMergeStrategy { .items(defaultSort: [], tieBreakers: [], alwaysSelected: [], defaultLimit: 500) }
    public var argumentNames: Set<String> {
        ["filter_node", "type", "search", "select", "sort", "offset", "limit", "distinct"]
    }

    func query(_ args: DapiArguments) throws -> NodeListQuery {
        var q = NodeListQuery()
        q.filterNode = try args.list("filter_node")
        q.offset = try args.int("offset", default: 0)
        q.limit = try args.int("limit", default: 500)
        let keys = try DapiSort.parse(args.values["sort"])
        if !keys.isEmpty {
            q.sortFields = keys.map(\.field)
            q.sortDescending = !keys[0].ascending
        }
        if let s = try args.search() { q.search = s.text; q.searchNegation = s.negate }
        q.select = try args.list("select")
        q.filterType = try args.string("type") ?? "all"
        q.distinct = try args.bool("distinct")
        return q
    }

    public func validate(_ args: DapiArguments) throws { _ = try query(args) }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let answer = try query(args).apply(to: try node.clusterNodes())
        return DapiResult(items: answer["items"]?.arrayValue ?? [], total: Int(answer["totalItems"]?.intValue ?? 0))
    }
}
