import ClusterKit

/// The agent operations over a node's agent store: each node answers for the agents it owns
/// (`node_name` is this node), so a fan-out sees every agent once, from the node that holds it.
struct StoreAgentSource: DapiAgentSource {
    let store: AgentStore
    let node: String

    static func ids(_ texts: [String]) throws -> [Int] {
        try texts.map { t in
            guard let n = Int(t), n > 0 else { throw DapiError.refused("operation 'agents.list': \"\(t)\" is not an agent id") }
            return n
        }
    }

    /// The store's query for a listing without a text search: this node's rows, filtered,
    /// sorted, paged and projected.
    func storeQuery(_ q: DapiAgentQuery) throws -> AgentQuery {
        var a = AgentQuery()
        a.ids = try StoreAgentSource.ids(q.ids)
        a.statuses = q.statuses
        a.groups = q.groups
        a.nodes = [node]
        a.sort = q.sort.map { AgentQuery.SortKey(field: $0.field, ascending: $0.ascending) }
        a.select = q.select
        a.offset = q.offset
        a.limit = q.limit
        return a
    }

    func list(_ q: DapiAgentQuery) throws -> (items: [JSON], total: Int) {
        guard let search = q.search?.lowercased() else {
            let answer = try store.list(storeQuery(q))
            return (answer["items"]?.arrayValue ?? [], Int(answer["totalItems"]?.intValue ?? 0))
        }
        // The store has no text search: the matching rows are read in order and searched here
        // (every field's text), then paged.
        var a = try storeQuery(q)
        a.select = nil
        a.offset = 0
        a.limit = nil
        let all = try store.list(a)["items"]?.arrayValue ?? []
        let found = all.filter { item in
            (item.objectValue?.values ?? []).contains { v in
                let text = v.stringValue ?? JSONWriter.compact.string(v)
                return text.lowercased().contains(search)
            }
        }
        var paging = DapiPaging()
        paging.select = q.select
        paging.alwaysSelected = ["id"]
        let page = found.dropFirst(q.offset).prefix(q.limit).map(paging.project)
        return (page, found.count)
    }

    /// `list` without a text search, its items written by the store straight from its rows.
    func listBytes(_ q: DapiAgentQuery) throws -> AgentListBytes? {
        guard q.search == nil else { return nil }
        return try store.listBytes(storeQuery(q))
    }

    func summary() throws -> (total: Int, byStatus: [String: Int], byGroup: [String: Int]) {
        var a = AgentQuery()
        a.nodes = [node]
        a.select = ["connection_status", "group"]
        var byStatus: [String: Int] = [:], byGroup: [String: Int] = [:]
        let items = try store.list(a)["items"]?.arrayValue ?? []
        for item in items {
            byStatus[item["connection_status"]?.stringValue ?? "unknown", default: 0] += 1
            for g in item["group"]?.arrayValue ?? [] { byGroup[g.stringValue ?? "", default: 0] += 1 }
        }
        return (items.count, byStatus, byGroup)
    }

    func owners(of ids: [String]) throws -> [String: [String]] {
        var a = AgentQuery()
        a.ids = try StoreAgentSource.ids(ids)
        a.select = ["node_name"]
        var nodeOf: [Int: String] = [:]
        for item in try store.list(a)["items"]?.arrayValue ?? [] {
            if let id = item["id"]?.stringValue.flatMap({ Int($0) }), let n = item["node_name"]?.stringValue { nodeOf[id] = n }
        }
        var out: [String: [String]] = [:]
        for text in ids {
            if let id = Int(text), let n = nodeOf[id] { out[n, default: []].append(text) }
        }
        return out
    }
}
