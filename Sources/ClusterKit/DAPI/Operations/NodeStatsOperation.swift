/// `node.stats`: the node's uptime, traffic, connections, sync counts and durations, request
/// counters and memory.
public struct NodeStatsOperation: DapiOperation {
    public init() {}
    public var name: String { "node.stats" }
    public var summary: String { "Uptime, bytes sent and received, connections, sync counts and durations, requests, memory." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy {
        .items(defaultSort: [DapiSortKey("node")], tieBreakers: [], alwaysSelected: [], defaultLimit: 500)
    }
    public var argumentNames: Set<String> { DapiPaging.pagingArguments }

    public func validate(_ args: DapiArguments) throws { _ = try DapiPaging(args, strategy: merge) }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let page = try DapiPaging(args, strategy: merge).page([node.statistics()])
        return DapiResult(items: page.items, total: page.total)
    }
}
