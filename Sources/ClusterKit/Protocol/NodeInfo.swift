/// One node as `get_nodes` and health describe it.
public struct NodeInfo: Sendable, Equatable {
    public var name: String
    public var type: String
    public var version: String
    public var ip: String
    /// A master under failover: `leader` or `follower` (ours; left out otherwise).
    public var ha: String?

    public init(name: String, type: String, version: String, ip: String, ha: String? = nil) {
        self.name = name
        self.type = type
        self.version = version
        self.ip = ip
        self.ha = ha
    }

    public var json: JSON {
        var o: JSON = ["name": .string(name), "type": .string(type), "version": .string(version), "ip": .string(ip)]
        if let ha { o["ha"] = .string(ha) }
        return o
    }
}

/// `get_nodes`: the reference's arguments (`filter_node`, `offset`, `limit`, `sort`, `search`,
/// `select`, `filter_type`, `distinct`) applied to the node list (master first, then workers in
/// connection order); the answer is `{"items": [...], "totalItems": n}`.
public struct NodeListQuery: Sendable {
    public var filterNode: [String]?
    public var offset = 0
    public var limit = 500
    public var sortFields: [String]?
    public var sortDescending = false
    public var search: String?
    public var searchNegation = false
    public var select: [String]?
    public var filterType = "all"
    public var distinct = false

    static let fields = ["name", "type", "version", "ip"]

    public init() {}

    public init(json: JSON?) throws {
        guard let json, case .object(let o) = json else { return }
        switch o["filter_node"] {
        case .string(let s)?: filterNode = [s]
        case .array(let a)?: filterNode = a.compactMap(\.stringValue)
        default: break
        }
        if let v = o["offset"]?.intValue { offset = max(0, Int(v)) }
        if let v = o["limit"]?.intValue { limit = max(0, Int(v)) }
        if case .object(let s)? = o["sort"] {
            sortFields = s["fields"]?.arrayValue?.compactMap(\.stringValue)
            sortDescending = s["order"]?.stringValue == "desc"
        }
        if case .object(let s)? = o["search"] {
            search = s["value"]?.stringValue
            searchNegation = s["negation"]?.boolValue ?? false
        }
        if let sel = o["select"]?.arrayValue { select = sel.compactMap(\.stringValue) }
        if let t = o["filter_type"]?.stringValue { filterType = t }
        distinct = o["distinct"]?.boolValue ?? false
    }

    public func apply(to nodes: [NodeInfo]) throws -> JSON {
        guard ["all", "master", "worker"].contains(filterType) else { throw ClusterError.wazuh(1728, filterType) }
        if let select, let bad = select.first(where: { !Self.fields.contains($0) }) {
            throw ClusterError.wazuh(1724, "\(bad). Allowed select fields: \(Self.fields.joined(separator: ", "))")
        }
        var list = nodes
        if let filterNode {
            for name in filterNode where !nodes.contains(where: { $0.name == name }) {
                throw ClusterError.wazuh(1730, name)
            }
            list = list.filter { filterNode.contains($0.name) }
        }
        if filterType != "all" { list = list.filter { $0.type == filterType } }
        var items: [JSONObject] = list.map { $0.json.objectValue! }
        if let search {
            let needle = search.lowercased()
            items = items.filter { item in
                let hit = item.values.contains { ($0.stringValue ?? "").lowercased().contains(needle) }
                return searchNegation ? !hit : hit
            }
        }
        if let sortFields, !sortFields.isEmpty {
            items.sort { a, b in
                for f in sortFields {
                    let x = a[f]?.stringValue ?? "", y = b[f]?.stringValue ?? ""
                    if x != y { return sortDescending ? x > y : x < y }
                }
                return false
            }
        }
        if let select {
            items = items.map { item in
                var o = JSONObject()
                for f in Self.fields where select.contains(f) { o[f] = item[f] }
                return o
            }
        }
        if distinct {
            var seen: [JSONObject] = []
            for i in items where !seen.contains(i) { seen.append(i) }
            items = seen
        }
        let total = items.count
        let page = Array(items.dropFirst(offset).prefix(limit))
        return ["items": .array(page.map(JSON.object)), "totalItems": .int(Int64(total))]
    }
}
