/// Where an operation can run.
public enum DapiPlacement: Sendable, Equatable {
    /// Only the master knows the answer (the node list, health): every request for it is sent to
    /// the master and runs there once, whatever its request type.
    case master
    /// Every node answers for itself: `local_any` runs where asked, `distributed_master` asks
    /// each node concerned and merges.
    case anyNode
}

/// How the answers of several nodes become one.
public enum DapiMergeStrategy: Sendable, Equatable {
    /// Items from every node; sort, offset, limit and select applied once over the union (each
    /// node is asked for its first offset+limit items in the same order). `tieBreakers` complete
    /// the caller's sort into a total order; `alwaysSelected` fields survive any `select`.
    case items(defaultSort: [DapiSortKey], tieBreakers: [DapiSortKey], alwaysSelected: [String], defaultLimit: Int,
               collation: DapiCollation = DapiCollation())
    /// Each node answers one object of counts; the objects are added key by key (the
    /// reference's WazuhResult merge: numbers add, equal strings stay, others join with "|",
    /// lists concatenate without duplicates, objects recurse).
    case sum
}

/// How an operation's items compare when their JSON form is not the order their source keeps:
/// an agent's id is `"001"` in the output but an integer in the store (`"1000"` sorts after
/// `"999"`), and its groups are a list in the output but one comma-joined text in the store.
public struct DapiCollation: Sendable, Equatable {
    /// Fields whose digit strings compare as the numbers they spell.
    public var numericFields: Set<String>
    /// Fields whose lists of strings compare as their comma-joined text.
    public var joinedListFields: Set<String>

    public init(numericFields: Set<String> = [], joinedListFields: Set<String> = []) {
        self.numericFields = numericFields
        self.joinedListFields = joinedListFields
    }

    /// The value `field` of `item` sorts as.
    public func value(_ item: JSON, _ field: String) -> JSON {
        sortValue(DapiSort.value(item, field), field)
    }

    /// The value a field's value `v` sorts as.
    public func sortValue(_ v: JSON, _ field: String) -> JSON {
        DapiCollation.sortValue(v, rule(field))
    }

    /// How a field's values sort.
    public enum Rule: Sendable { case asIs, numeric, joinedList }

    public func rule(_ field: String) -> Rule {
        numericFields.contains(field) ? .numeric : joinedListFields.contains(field) ? .joinedList : .asIs
    }

    /// The value `v` sorts as under `rule` (for many values of one field, the rule looked up once).
    public static func sortValue(_ v: JSON, _ rule: Rule) -> JSON {
        switch (rule, v) {
        case (.numeric, .string(let s)): return Int64(s).map(JSON.int) ?? v
        case (.joinedList, .array(let a)): return .string(a.map { $0.stringValue ?? JSONWriter.compact.string($0) }.joined(separator: ","))
        default: return v
        }
    }
}

/// What an operation needs to know about the node it runs on. ClusterNode implements it, so
/// this library stays free of any runtime.
public protocol DapiNodeContext: Sendable {
    var config: ClusterConfig { get }
    /// The master's view of the cluster's nodes, master first (a master-only fact).
    func clusterNodes() throws -> [NodeInfo]
    /// The master's health report for a `get_health` filter (a master-only fact).
    func clusterHealth(filter: JSON?) throws -> JSON
    /// Uptime, traffic, connections, sync and request counters, memory.
    func statistics() -> JSON
    /// The cluster log file (`<root>/logs/cluster.log`).
    var logFile: String { get }
    /// The node's agents, each node answering for the agents it owns.
    func agentSource() throws -> DapiAgentSource
}

/// The agent queries the agent operations make.
public protocol DapiAgentSource: Sendable {
    /// `{"items": [...], "totalItems": n}` for the node's own agents.
    func list(_ arguments: DapiAgentQuery) throws -> (items: [JSON], total: Int)
    /// Counts of the node's own agents: total, by status, by group.
    func summary() throws -> (total: Int, byStatus: [String: Int], byGroup: [String: Int])
    /// The node that owns each of `ids` according to this (master's) store; ids it does not
    /// know are left out.
    func owners(of ids: [String]) throws -> [String: [String]]
    /// The same listing as `list`, its items already written as JSON (each exactly as
    /// `JSONWriter.compact` writes `list`'s); nil when the source only lists through `list`.
    func listBytes(_ arguments: DapiAgentQuery) throws -> AgentListBytes?
}

extension DapiAgentSource {
    public func listBytes(_ arguments: DapiAgentQuery) throws -> AgentListBytes? { nil }
}

/// What `agents.list` asks a node's agent source.
public struct DapiAgentQuery: Sendable, Equatable {
    public var ids: [String] = []
    public var statuses: [String] = []
    public var groups: [String] = []
    public var search: String?
    public var select: [String]?
    public var sort: [DapiSortKey] = []
    public var offset = 0
    public var limit = 500
    public init() {}
}

/// A distributed API operation: a name in the compiled-in registry, where it may run, how its
/// answers merge, and the code that runs it. Adding an operation is one file under
/// `DAPI/Operations/` and its line in `OperationRegistry.standard`.
public protocol DapiOperation: Sendable {
    var name: String { get }
    /// One line for `cl-dapi --help` and the notes.
    var summary: String { get }
    var placement: DapiPlacement { get }
    /// The request type `cl-dapi call` uses when none is given and no nodes are named.
    var defaultRequestType: DapiRequestType { get }
    var merge: DapiMergeStrategy { get }
    /// Does blocking I/O (files, the database): runs on the node's DAPI thread pool instead of
    /// an event loop or a shared task.
    var blocking: Bool { get }
    /// `agent_list` in the arguments chooses the nodes of a fan-out (the agents' owners).
    var agentRouted: Bool { get }
    /// The argument names the operation takes; others are refused.
    var argumentNames: Set<String> { get }
    /// Checks the arguments on the node that received the request, before anything runs.
    func validate(_ args: DapiArguments) throws
    func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult
    /// The answer's bytes, written without building its values (exactly `run`'s result's
    /// `bytes`), when the operation can for these arguments; nil to use `run`.
    func runEncoded(_ args: DapiArguments, on node: DapiNodeContext) throws -> [UInt8]?
}

extension DapiOperation {
    public func runEncoded(_ args: DapiArguments, on node: DapiNodeContext) throws -> [UInt8]? { nil }
    public var blocking: Bool { false }
    public var agentRouted: Bool { false }
    public func validate(_ args: DapiArguments) throws {}
}

/// An operation's arguments (`f_kwargs`) with typed readers whose errors name the operation
/// and the argument.
public struct DapiArguments: Sendable, Equatable {
    public let operation: String
    public var values: JSONObject

    public init(operation: String, _ values: JSONObject) {
        self.operation = operation
        self.values = values
    }

    public func refused(_ key: String, _ why: String) -> ClusterError {
        DapiError.refused("operation '\(operation)': argument \"\(key)\" \(why)")
    }

    /// Refuses any argument not in `allowed`.
    public func check(allowed: Set<String>) throws {
        let unknown = values.keys.filter { !allowed.contains($0) }
        guard unknown.isEmpty else {
            let list = allowed.sorted().joined(separator: ", ")
            throw DapiError.refused("operation '\(operation)' takes no argument\(unknown.count > 1 ? "s" : "") \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) (it takes: \(list.isEmpty ? "none" : list))")
        }
    }

    public func has(_ key: String) -> Bool {
        if case .null? = values[key] { return false }
        return values[key] != nil
    }

    public func int(_ key: String, default d: Int, range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        switch values[key] {
        case nil, .null?: return d
        case let v?:
            guard let i = v.intValue, i >= Int64(range.lowerBound), i <= Int64(min(range.upperBound, Int(Int64.max))) else {
                throw refused(key, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return Int(i)
        }
    }

    public func string(_ key: String) throws -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let v?: throw refused(key, "must be a string, got \(v.typeName)")
        }
    }

    public func bool(_ key: String, default d: Bool = false) throws -> Bool {
        switch values[key] {
        case nil, .null?: return d
        case .bool(let b)?: return b
        case let v?: throw refused(key, "must be a boolean, got \(v.typeName)")
        }
    }

    /// A list given as an array of strings (or numbers, for ids), or as one comma-separated
    /// string, as the reference API takes lists.
    public func list(_ key: String) throws -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let s)?:
            return s.split(separator: ",").map { part in
                var p = part.drop { $0 == " " }
                while p.last == " " { p = p.dropLast() }
                return String(p)
            }.filter { !$0.isEmpty }
        case .int(let i)?: return [String(i)]
        case .array(let a)?:
            return try a.map { v in
                switch v {
                case .string(let s): return s
                case .int(let i): return String(i)
                default: throw refused(key, "must list strings, got \(v.typeName)")
                }
            }
        case let v?: throw refused(key, "must be a list or a comma-separated string, got \(v.typeName)")
        }
    }

    /// `search`: a string, or the reference's `{"value": s, "negation": bool}`.
    public func search(_ key: String = "search") throws -> (text: String, negate: Bool)? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s.isEmpty ? nil : (s, false)
        case .object(let o)?:
            guard let s = o["value"]?.stringValue else { throw refused(key, "needs a string \"value\"") }
            return (s, o["negation"]?.boolValue ?? false)
        case let v?: throw refused(key, "must be a string, got \(v.typeName)")
        }
    }
}

/// Offset, limit, sort and select, as every item operation reads them from its arguments, on
/// each node and again at the merge.
public struct DapiPaging: Sendable, Equatable {
    public var offset = 0
    public var limit = 500
    /// The caller's sort (or the operation's default) followed by its tie-breakers.
    public var sort: [DapiSortKey] = []
    public var select: [String]?
    public var alwaysSelected: [String] = []
    public var collation = DapiCollation()

    public static let pagingArguments: Set<String> = ["offset", "limit", "sort", "select"]

    public init() {}

    public init(_ args: DapiArguments, strategy: DapiMergeStrategy) throws {
        guard case .items(let defaultSort, let tieBreakers, let always, let defaultLimit, let collation) = strategy else { return }
        self.collation = collation
        offset = try args.int("offset", default: 0, range: 0...Int(Int32.max))
        limit = try args.int("limit", default: defaultLimit, range: 0...Int(Int32.max))
        var keys = try DapiSort.parse(args.values["sort"])
        if keys.isEmpty { keys = defaultSort }
        for t in tieBreakers where !keys.contains(where: { $0.field == t.field }) { keys.append(t) }
        sort = keys
        select = try args.list("select")
        alwaysSelected = always
    }

    /// Sorts, cuts the page and projects it; `total` is every item, before the cut.
    public func page(_ items: [JSON]) -> (items: [JSON], total: Int) {
        let sorted = DapiSort.sort(items, by: sort, collation: collation)
        let cut = sorted.dropFirst(offset).prefix(limit)
        return (cut.map(project), items.count)
    }

    public func project(_ item: JSON) -> JSON {
        guard let select, case .object(let o) = item else { return item }
        var out = JSONObject(minimumCapacity: select.count + alwaysSelected.count)
        for k in o.keys where select.contains(k) || alwaysSelected.contains(k) { out[k] = o[k] }
        return .object(out)
    }

    /// The arguments each node of a fan-out gets: its first offset+limit items, with every
    /// field the merge sorts on (W12 of the reference: it paged per node and never again).
    public func forwarded(_ args: JSONObject) -> JSONObject {
        var a = args
        a["offset"] = 0
        a["limit"] = .int(Int64(offset) + Int64(limit))
        a["sort"] = .string(sort.map(\.description).joined(separator: ","))
        if let select {
            var fields = select
            for k in sort.map(\.field) + alwaysSelected where !fields.contains(k) && !k.contains(".") { fields.append(k) }
            a["select"] = .array(fields.map(JSON.string))
        }
        return a
    }
}
