/// A code reference as the reference's encoder writes a function (dapi §2.3):
/// `{"__callable__": {"__name__", "__module__", "__qualname__", "__type__": "function"}}`.
public struct ReferenceCall: Sendable, Hashable, CustomStringConvertible {
    public let module: String
    public let qualname: String

    public init(_ module: String, _ qualname: String) {
        self.module = module
        self.qualname = qualname
    }

    /// `module.qualname`, as error messages name it.
    public var description: String { "\(module).\(qualname)" }

    /// The function's own name: the last part of its qualified name.
    public var functionName: String { String(qualname.split(separator: ".").last ?? Substring(qualname)) }

    /// The reference's encoding of this function.
    public var json: JSON {
        var c = JSONObject(minimumCapacity: 4)
        c["__name__"] = .string(functionName)
        c["__module__"] = .string(module)
        c["__qualname__"] = .string(qualname)
        c["__type__"] = "function"
        return ["__callable__": .object(c)]
    }

    /// Reads `{"__callable__": {...}}`; nil when `f` is not one (or names no module).
    public init?(json f: JSON) {
        guard let c = f["__callable__"], let module = c["__module__"]?.stringValue,
              let qualname = c["__qualname__"]?.stringValue ?? c["__name__"]?.stringValue else { return nil }
        self.init(module, qualname)
    }
}

/// Where a request with a reference code reference came from: the call, and the arguments it
/// was sent with (its answer is written in the reference's encoding, for these arguments).
public struct ReferenceOrigin: Sendable, Equatable {
    public var call: ReferenceCall
    public var arguments: JSONObject
}

/// One line of the table: a reference function, the operation of ours that answers it, how its
/// arguments become the operation's, and how the operation's result is written back.
public struct ReferenceCallEntry: Sendable {
    public let call: ReferenceCall
    /// Our operation.
    public let operation: String
    /// The request type we run it as, when it must differ from the one sent: our master's store
    /// answers only for its own agents, so the agent calls fan out to every node.
    public let requestType: DapiRequestType?
    /// The reference's keyword arguments that endpoint sends → the operation's arguments (and
    /// `node_list`). An argument we cannot honour is refused, naming it.
    let translate: @Sendable (DapiArguments) throws -> JSONObject
    /// The operation's result → the reference's result (before tagging is applied).
    let encode: @Sendable (DapiResult, DapiArguments) -> JSON
}

/// The compiled-in table of reference code references a node of ours answers (PROTOCOL.md
/// lists it). Nothing is imported or looked up: a code reference not in the table is refused,
/// and the reference API's authentication calls are refused at once with the reason.
public enum ReferenceCallTable {
    typealias Messages = ReferenceEncoding.Messages

    static func affected(_ m: Messages, sortCasting: [String] = ["int"]) -> @Sendable (DapiResult, DapiArguments) -> JSON {
        { r, _ in ReferenceEncoding.affectedItems(r, messages: m, sortCasting: sortCasting) }
    }

    /// The reference's arguments a translation takes without passing them on (they change
    /// nothing here, or are routing keys handled by `prepare`).
    static func check(_ a: DapiArguments, takes: Set<String>) throws {
        try a.check(allowed: takes.union(["node_id", "node_list"]))
        if let q = try a.string("q"), !q.isEmpty { throw a.refused("q", "(a query) is not supported by this node") }
        if try a.bool("distinct") { throw a.refused("distinct", "is not supported by this node") }
    }

    /// Copies the routing keys and the named arguments that are set.
    static func copy(_ a: DapiArguments, _ keys: [String], into out: inout JSONObject) {
        for k in keys + ["node_id", "node_list"] where a.has(k) { out[k] = a.values[k] }
    }

    /// A translation that takes `takes`, passes `keys` (and the routing keys) on as they are.
    static func passing(_ keys: [String], takes: Set<String>) -> @Sendable (DapiArguments) throws -> JSONObject {
        { a in
            try check(a, takes: takes)
            var out = JSONObject()
            copy(a, keys, into: &out)
            return out
        }
    }

    /// `agent_list` as our operations take it: absent for every agent (`"*"`, null).
    static func agentList(_ a: DapiArguments) throws -> JSON? {
        guard let ids = try a.list("agent_list"), ids != ["*"], !ids.isEmpty else { return nil }
        return .array(ids.map(JSON.string))
    }

    /// A reference filter value ("active,disconnected", or "all" for none).
    static func filterList(_ v: JSON?, _ a: DapiArguments, _ key: String) throws -> [String]? {
        var o = JSONObject()
        o[key] = v
        let list = try DapiArguments(operation: a.operation, o).list(key)
        guard let list, !list.isEmpty, !list.contains("all") else { return nil }
        return list
    }

    /// `filters` of `get_agents` / `get_agents_overview`: status and group are ours, node_name
    /// chooses the nodes; any other filter set is refused, naming it.
    static func agentFilters(_ a: DapiArguments, into out: inout JSONObject) throws {
        guard a.has("filters") else { return }
        guard case .object(let f)? = a.values["filters"] else { throw a.refused("filters", "must be an object") }
        for k in f.keys {
            let v = f[k]
            if case .null? = v { continue }
            switch k {
            case "status":
                if let l = try filterList(v, a, k) { out["status"] = .array(l.map(JSON.string)) }
            case "group":
                if let l = try filterList(v, a, k) { out["group"] = .array(l.map(JSON.string)) }
            case "node_name":
                if let l = try filterList(v, a, k) { out["node_list"] = .array(l.map(JSON.string)) }
            default:
                throw a.refused("filters", "filter \"\(k)\" is not supported by this node (status, group and node_name are)")
            }
        }
    }

    /// Agent fields whose reference name is not ours (`WazuhDBQueryAgents` → our store).
    public static let agentFieldNames: [String: String] = [
        "status": "connection_status", "dateAdd": "date_add", "lastKeepAlive": "last_keepalive",
        "manager": "manager_host", "mergedSum": "merged_sum", "configSum": "config_sum",
    ]
    static let agentFieldNamesBack: [String: String] = {
        var m = [String: String]()
        for (k, v) in agentFieldNames { m[v] = k }
        return m
    }()

    /// `select` and the sort fields of an agent request, in our names.
    static func agentFieldsToOurs(_ out: inout JSONObject) {
        func name(_ v: JSON) -> JSON { v.stringValue.map { .string(agentFieldNames[$0] ?? $0) } ?? v }
        if case .array(let l)? = out["select"] { out["select"] = .array(l.map(name)) }
        if case .string(let t)? = out["select"] {
            out["select"] = .array(t.split(separator: ",").map { name(.string(String($0))) })
        }
        switch out["sort"] {
        case .object(var o)?:
            if case .array(let l)? = o["fields"] { o["fields"] = .array(l.map(name)) }
            out["sort"] = .object(o)
        case .array(let l)?:
            out["sort"] = .array(l.map(name))
        default: break
        }
    }

    /// An agent item with the reference's field names (`renames` maps ours to theirs, or back).
    static func renamed(_ item: JSON, _ renames: [String: String]) -> JSON {
        guard case .object(let o) = item else { return item }
        var out = JSONObject(minimumCapacity: o.count)
        for k in o.keys { out[renames[k] ?? k] = o[k] }
        return .object(out)
    }

    static func agentsInReferenceNames(_ r: DapiResult) -> DapiResult {
        var out = DapiResult(items: r.affectedItems.map { renamed($0, agentFieldNamesBack) }, total: r.totalAffectedItems)
        out.addFailures(of: r)
        return out
    }

    /// The table.
    public static let entries: [ReferenceCallEntry] = [
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.cluster", "get_nodes_info"), operation: "cluster.nodes", requestType: nil,
            translate: { a in
                try check(a, takes: ["filter_node", "offset", "limit", "sort", "search", "select", "filter_type", "q", "distinct"])
                var out = JSONObject()
                copy(a, ["filter_node", "offset", "limit", "sort", "search", "select"], into: &out)
                if a.has("filter_type") { out["type"] = a.values["filter_type"] }
                return out
            },
            encode: affected(Messages(all: "All selected nodes information was returned",
                                      some: "Some nodes information was not returned", none: "No information was returned"))),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.cluster", "get_health_nodes"), operation: "cluster.health", requestType: nil,
            translate: passing(["filter_node"], takes: ["filter_node"]),
            encode: affected(Messages(all: "All selected nodes healthcheck information was returned",
                                      some: "Some nodes healthcheck information was not returned",
                                      none: "No healthcheck information was returned"))),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.cluster", "get_status_json"), operation: "cluster.status", requestType: nil,
            translate: passing([], takes: []),
            encode: { r, _ in ReferenceEncoding.wazuhResult(["data": r.affectedItems.first ?? ["enabled": "yes", "running": "yes"]]) }),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.agent", "get_agents"), operation: "agents.list", requestType: .distributedMaster,
            translate: { a in
                try check(a, takes: ["agent_list", "offset", "limit", "sort", "search", "select", "filters", "q", "distinct"])
                var out = JSONObject()
                copy(a, ["offset", "limit", "sort", "search", "select"], into: &out)
                if let ids = try agentList(a) { out["agent_list"] = ids }
                try agentFilters(a, into: &out)
                agentFieldsToOurs(&out)
                return out
            },
            encode: { r, _ in
                ReferenceEncoding.affectedItems(agentsInReferenceNames(r),
                                                messages: Messages(all: "All selected agents information was returned",
                                                                   some: "Some agents information was not returned",
                                                                   none: "No agent information was returned"))
            }),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.agent", "get_agents_summary_status"), operation: "agents.summary", requestType: .distributedMaster,
            translate: { a in
                try check(a, takes: ["agent_list"])
                if try agentList(a) != nil { throw a.refused("agent_list", "a summary of some agents is not supported by this node") }
                var out = JSONObject()
                copy(a, [], into: &out)
                return out
            },
            encode: { r, _ in ReferenceEncoding.wazuhResult(["data": summaryStatus(r.affectedItems.first)]) }),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.agent", "get_agent_groups"), operation: "agents.summary", requestType: .distributedMaster,
            translate: { a in
                try check(a, takes: ["group_list", "offset", "limit", "sort_by", "sort_ascending", "search_text",
                                     "complementary_search", "hash_algorithm", "q", "select", "distinct"])
                _ = try a.list("group_list")
                _ = try a.int("offset", default: 0)
                _ = try a.int("limit", default: 500)
                var out = JSONObject()
                copy(a, [], into: &out)
                return out
            },
            encode: { r, a in
                ReferenceEncoding.affectedItems(groups(r.affectedItems.first, a),
                                                messages: Messages(all: "All selected groups information was returned",
                                                                   some: "Some groups information was not returned",
                                                                   none: "No group information was returned"))
            }),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.manager", "get_status"), operation: "node.daemons", requestType: nil,
            translate: passing([], takes: []),
            encode: affected(Messages(all: "Processes status were successfully read in specified node",
                                      some: "Could not read basic information in some nodes",
                                      none: "Could not read processes status in specified node"))),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.manager", "ossec_log"), operation: "node.logs", requestType: nil,
            translate: { a in
                try check(a, takes: ["offset", "limit", "sort", "sort_by", "sort_ascending", "search", "search_text",
                                     "complementary_search", "search_in_fields", "tag", "level", "q", "select", "distinct"])
                var out = JSONObject()
                copy(a, ["offset", "limit", "sort", "search", "tag", "level", "select"], into: &out)
                if let by = try a.list("sort_by") {
                    let asc = try a.bool("sort_ascending", default: true)
                    out["sort"] = .array(by.map { .string((asc ? "+" : "-") + $0) })
                }
                if let text = try a.string("search_text"), !text.isEmpty {
                    out["search"] = ["value": .string(text), "negation": .bool(try a.bool("complementary_search"))]
                }
                return out
            },
            encode: { r, a in
                var items = DapiResult(items: r.affectedItems.map(logLine), total: r.totalAffectedItems)
                items.addFailures(of: r)
                return ReferenceEncoding.affectedItems(items, messages: Messages(all: "Logs were successfully read in specified node",
                                                                                 some: "Could not read logs in some nodes",
                                                                                 none: "Could not read logs in specified node"))
            }),
        ReferenceCallEntry(
            call: ReferenceCall("wazuh.core.agent", "Agent.get_agents_overview"), operation: "agents.list", requestType: .distributedMaster,
            translate: { a in
                try check(a, takes: ["filters", "limit", "select", "offset", "sort", "search", "q"])
                var out = JSONObject()
                copy(a, ["offset", "sort", "search", "select"], into: &out)
                // cluster_control -a sends `limit: null`: every agent.
                out["limit"] = a.has("limit") ? a.values["limit"] : .int(Int64(Int32.max))
                try agentFilters(a, into: &out)
                agentFieldsToOurs(&out)
                return out
            },
            encode: { r, _ in
                // A plain dict, which the reference wraps as a WazuhResult.
                let items = agentsInReferenceNames(r).affectedItems
                return ReferenceEncoding.wazuhResult(["items": .array(items), "totalItems": .int(Int64(r.totalAffectedItems))])
            }),
    ]

    /// The reference API's authentication calls (`api/authentication.py`, all local_master).
    /// They need the reference API's own security database (users, roles, token blacklist),
    /// which a node of ours does not have: refused at once, naming the reason.
    public static let authentication: [ReferenceCall] = [
        ReferenceCall("api.authentication", "check_token"),
        ReferenceCall("api.authentication", "get_security_conf"),
        ReferenceCall("api.authentication", "check_user_master"),
    ]

    static let byCall: [ReferenceCall: ReferenceCallEntry] = {
        var m = [ReferenceCall: ReferenceCallEntry]()
        for e in entries { m[e.call] = e }
        return m
    }()

    public static func entry(_ call: ReferenceCall) -> ReferenceCallEntry? { byCall[call] }

    /// The refusal of an authentication call: 3009 with `cmd_error`, so that a reference API
    /// shows this text as the message (it knows 3009; it would fail to decode a code of ours).
    public static func authenticationRefusal(_ call: ReferenceCall) -> ClusterError {
        ClusterError.wazuh(3009, "\(call) is not served by this node: it needs the reference API's own security database (users, roles, revoked tokens), which a clustertools node does not have; run the API's authentication against a reference master")
    }

    /// An answer of ours, written as the reference's encoding of `origin`'s function: the
    /// result as its entry shapes it, or the error as an exception a reference node decodes.
    public static func encode(_ answer: DapiAnswer, origin: ReferenceOrigin) -> [UInt8] {
        switch answer.decoded {
        case .result(let r):
            guard let entry = byCall[origin.call] else { return answer.bytes }
            return JSONWriter.python.bytes(entry.encode(r, DapiArguments(operation: origin.call.description, origin.arguments)))
        case .failure(let e): return JSONWriter.python.bytes(ReferenceEncoding.error(e))
        case .encoded(let b): return b
        }
    }

    // MARK: result shapes

    /// `get_agents_summary_status`'s data from our summary item.
    static func summaryStatus(_ item: JSON?) -> JSON {
        let by = item?["by_status"]
        func n(_ k: String) -> JSON { .int(by?[k]?.intValue ?? 0) }
        let total = item?["total"]?.intValue ?? 0
        return ["connection": ["active": n("active"), "disconnected": n("disconnected"), "never_connected": n("never_connected"),
                               "pending": n("pending"), "total": .int(total)],
                "configuration": ["synced": .int(item?["by_config_status"]?["synced"]?.intValue ?? 0),
                                  "not_synced": .int(item?["by_config_status"]?["not synced"]?.intValue ?? 0),
                                  "total": .int(total)]]
    }

    /// `get_agent_groups`' items (`{"name", "count"}`) from our summary's counts by group,
    /// filtered, sorted and paged as its arguments ask.
    static func groups(_ item: JSON?, _ a: DapiArguments) -> DapiResult {
        let counts = item?["by_group"]?.objectValue ?? JSONObject()
        var names = counts.keys.sorted(by: DapiSort.bytesLess)
        if let only = (try? a.list("group_list")) ?? nil, !only.isEmpty, only != ["*"] {
            names = names.filter(only.contains)
        }
        if let text = (try? a.string("search_text")) ?? nil, !text.isEmpty {
            let negate = (try? a.bool("complementary_search")) ?? false
            names = names.filter { $0.lowercased().contains(text.lowercased()) != negate }
        }
        if (try? a.bool("sort_ascending", default: true)) == false { names.reverse() }
        let offset = (try? a.int("offset", default: 0)) ?? 0
        let limit = (try? a.int("limit", default: 500)) ?? 500
        let page = names.dropFirst(offset).prefix(limit)
        return DapiResult(items: page.map { ["name": .string($0), "count": counts[$0] ?? 0] }, total: names.count)
    }

    /// An `ossec_log` item from one of our log lines.
    static func logLine(_ line: JSON) -> JSON {
        var o = JSONObject(minimumCapacity: 4)
        o["timestamp"] = line["timestamp"] ?? .null
        o["tag"] = line["tag"].flatMap { $0.isNull ? nil : $0 } ?? "wazuh-clusterd"
        o["level"] = line["level"] ?? .null
        o["description"] = line["description"] ?? .null
        return .object(o)
    }

    // MARK: the other way: our operations toward a reference node

    /// The code reference a reference node is sent for one of our operations, with the
    /// arguments it takes; nil when the operation has none (nothing is sent then).
    public static func reverse(_ request: DapiRequest, peer: String) -> [UInt8]? {
        let a = DapiArguments(operation: request.operation, request.arguments)
        var kwargs = JSONObject()
        let call: ReferenceCall
        var isAsync = false
        let theirs = request.operation == "agents.list" ? agentFieldNamesBack : [:]
        func sortDict() -> JSON {
            let keys = (try? DapiSort.parse(a.values["sort"])) ?? []
            guard !keys.isEmpty else { return .null }
            return ["fields": .array(keys.map { .string(theirs[$0.field] ?? $0.field) }), "order": keys[0].ascending ? "asc" : "desc"]
        }
        func searchDict() -> JSON {
            guard let s = (try? a.search()) ?? nil else { return .null }
            return ["value": .string(s.text), "negation": .bool(s.negate)]
        }
        func list(_ k: String) -> JSON {
            guard let l = (try? a.list(k)) ?? nil else { return .null }
            return .array(l.map(JSON.string))
        }
        switch request.operation {
        case "agents.list":
            call = ReferenceCall("wazuh.agent", "get_agents")
            kwargs["agent_list"] = list("agent_list")
            kwargs["offset"] = a.values["offset"] ?? 0
            kwargs["limit"] = a.values["limit"] ?? 500
            kwargs["sort"] = sortDict()
            kwargs["search"] = searchDict()
            kwargs["select"] = ((try? a.list("select")) ?? nil).map { .array($0.map { .string(theirs[$0] ?? $0) }) } ?? .null
            // A fan-out's share: only the peer's own agents, as each node of ours answers for
            // its own.
            func joined(_ k: String) -> JSON {
                guard let l = (try? a.list(k)) ?? nil, !l.isEmpty else { return .null }
                return .string(l.joined(separator: ","))
            }
            kwargs["filters"] = ["status": joined("status"), "group": joined("group"),
                                 "node_name": request.fromCluster ? .string(peer) : .null]
            kwargs["q"] = ""
        case "cluster.nodes":
            call = ReferenceCall("wazuh.cluster", "get_nodes_info")
            isAsync = true
            kwargs["filter_node"] = list("filter_node")
            for k in ["offset", "limit", "select"] where a.has(k) { kwargs[k] = a.values[k] }
            kwargs["sort"] = sortDict()
            kwargs["search"] = searchDict()
            kwargs["filter_type"] = a.values["type"] ?? "all"
        case "cluster.health":
            call = ReferenceCall("wazuh.cluster", "get_health_nodes")
            isAsync = true
            kwargs["filter_node"] = list("filter_node")
        case "cluster.status":
            call = ReferenceCall("wazuh.cluster", "get_status_json")
        case "node.daemons":
            call = ReferenceCall("wazuh.manager", "get_status")
        default:
            return nil
        }
        // The reference's 13 keys (dapi §3.1), as its `to_dict` writes them.
        var o = JSONObject(minimumCapacity: 13)
        o["f"] = call.json
        o["f_kwargs"] = .object(kwargs)
        o["request_type"] = .string(request.requestType.rawValue)
        o["wait_for_complete"] = .bool(request.waitForComplete)
        o["from_cluster"] = .bool(request.fromCluster)
        o["is_async"] = .bool(isAsync)
        o["local_client_arg"] = isAsync ? "lc" : .null
        o["basic_services"] = ["wazuh-modulesd", "wazuh-analysisd", "wazuh-execd", "wazuh-db", "wazuh-remoted"]
        o["rbac_permissions"] = ["rbac_mode": "black"]
        o["current_user"] = ""
        o["broadcasting"] = .bool(request.broadcasting)
        o["nodes"] = .array(request.nodes.map(JSON.string))
        o["api_timeout"] = request.apiTimeout.map { $0.rounded() == $0 ? .int(Int64($0)) : .double($0) } ?? 10
        return JSONWriter.python.bytes(.object(o))
    }

    /// A reference node's answer to a code reference we sent it, as one of our answers.
    public static func ourAnswer(_ bytes: [UInt8], operation: String) -> DapiAnswer {
        switch ReferenceEncoding.decode(bytes) {
        case .affectedItems(let r, _):
            guard operation == "agents.list" else { return .result(r) }
            var ours = DapiResult(items: r.affectedItems.map { renamed($0, agentFieldNames) }, total: r.totalAffectedItems)
            ours.addFailures(of: r)
            return .result(ours)
        case .wazuhResult(let d):
            // get_status_json's {"data": {...}}; any other dict as one item.
            if operation == "cluster.status", let data = d["data"] { return .result(DapiResult(items: [data])) }
            return .result(DapiResult(items: [d]))
        case .exception(let e): return .failure(e)
        case .plain(let v):
            return .failure(ClusterError.wazuh(3103, "the reference node answered \(operation) with \(String(JSONWriter.compact.string(v).prefix(200)))"))
        }
    }

    /// Why a named operation is not sent to a reference node.
    public static func notSent(_ operation: String, peer: String) -> ClusterError {
        ClusterError.wazuh(3103, "'\(operation)' was not sent to \(peer): it is a reference (Wazuh) node, which runs only code references, and '\(operation)' has none in the table")
    }
}
