/// `agents.list`: the agents, each node answering for the agents it owns, filtered (`agent_list`,
/// `status`, `group`, `search`), sorted, paged and projected once over the whole cluster.
public struct AgentsListOperation: DapiOperation {
    public init() {}
    public var name: String { "agents.list" }
    public var summary: String { "The agents (filters, select, search, sort, offset, limit), from the nodes that own them." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .distributedMaster }
    public var merge: DapiMergeStrategy {
        .items(defaultSort: [], tieBreakers: [DapiSortKey("id"), DapiSortKey("node_name")], alwaysSelected: ["id"],
               defaultLimit: 500, collation: AgentsListOperation.collation)
    }
    public var blocking: Bool { true }
    public var agentRouted: Bool { true }
    /// The store keeps ids as integers and groups as one comma-joined text, and sorts on those.
    public static let collation = DapiCollation(numericFields: ["id"], joinedListFields: ["group"])
    public var argumentNames: Set<String> { DapiPaging.pagingArguments.union(["agent_list", "status", "group", "search"]) }

    func query(_ args: DapiArguments) throws -> DapiAgentQuery {
        let paging = try DapiPaging(args, strategy: merge)
        var q = DapiAgentQuery()
        q.ids = try args.list("agent_list") ?? []
        q.statuses = try args.list("status") ?? []
        q.groups = try args.list("group") ?? []
        if let s = try args.search() {
            guard !s.negate else { throw args.refused("search", "negation is not supported") }
            q.search = s.text
        }
        // Field names, statuses and groups as the store knows them.
        do {
            if let select = paging.select { q.select = try AgentQuery.parseSelect(select.joined(separator: ",")) }
            _ = try AgentQuery.parseSort(paging.sort.map(\.description).joined(separator: ","))
            var check = AgentQuery()
            check.statuses = q.statuses
            check.groups = q.groups
            try check.validate()
        } catch let e as ClusterError {
            throw DapiError.refused("operation 'agents.list': \(e.message)")
        }
        q.sort = paging.sort
        q.offset = paging.offset
        q.limit = paging.limit
        return q
    }

    public func validate(_ args: DapiArguments) throws { _ = try query(args) }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let q = try query(args)
        let answer = try node.agentSource().list(q)
        var result = DapiResult(items: answer.items, total: answer.total)
        AgentsListOperation.addMissing(q, found: answer.items.compactMap { $0["id"].map { $0.stringValue ?? JSONWriter.compact.string($0) } },
                                       listed: answer.items.count, total: answer.total, to: &result)
        return result
    }

    /// The same answer's bytes, its items written by the store straight from its rows; nil when
    /// the source lists only through values (a text search).
    public func runEncoded(_ args: DapiArguments, on node: DapiNodeContext) throws -> [UInt8]? {
        let q = try query(args)
        guard let page = try node.agentSource().listBytes(q) else { return nil }
        var result = DapiResult(items: [], total: page.total)
        AgentsListOperation.addMissing(q, found: page.ids.map(AgentRecord.formatID), listed: page.count, total: page.total, to: &result)
        return result.bytes(encodedItems: page.items)
    }

    /// Ids asked for by name that this node does not have: the reference's 1701 per id. `found`
    /// are the ids listed, as the items show them.
    static func addMissing(_ q: DapiAgentQuery, found ids: [String], listed: Int, total: Int, to result: inout DapiResult) {
        guard !q.ids.isEmpty && q.statuses.isEmpty && q.groups.isEmpty && q.search == nil && q.offset == 0 && total < q.ids.count else { return }
        let found = Set(ids)
        let missing = q.ids.filter { id in !found.contains(id) && !found.contains(AgentsListOperation.padded(id)) }
        if !missing.isEmpty && listed == total { result.addFailure(ClusterError.wazuh(1701), ids: missing) }
    }

    /// "7" and "007" name the same agent.
    static func padded(_ id: String) -> String {
        guard let n = Int(id) else { return id }
        let s = String(n)
        return s.count >= 3 ? s : String(repeating: "0", count: 3 - s.count) + s
    }
}
