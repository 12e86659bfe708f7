/// `agents.summary`: how many agents each node owns, by connection status and by group. Across
/// nodes the counts add up.
public struct AgentsSummaryOperation: DapiOperation {
    public init() {}
    public var name: String { "agents.summary" }
    public var summary: String { "Agent counts: total, by status, by node, by group." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .distributedMaster }
    public var merge: DapiMergeStrategy { .sum }
    public var blocking: Bool { true }
    public var argumentNames: Set<String> { [] }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let s = try node.agentSource().summary()
        func counts(_ d: [String: Int]) -> JSON {
            var o = JSONObject(minimumCapacity: d.count)
            for k in d.keys.sorted(by: DapiSort.bytesLess) { o[k] = .int(Int64(d[k]!)) }
            return .object(o)
        }
        let item: JSON = ["total": .int(Int64(s.total)), "by_status": counts(s.byStatus),
                          "by_node": counts([node.config.nodeName: s.total]), "by_group": counts(s.byGroup)]
        return DapiResult(items: [item])
    }
}
