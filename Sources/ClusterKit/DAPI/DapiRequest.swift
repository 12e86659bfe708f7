/// Where a distributed API request runs (dapi §3.3).
public enum DapiRequestType: String, Sendable, CaseIterable {
    /// Runs on the node that was asked.
    case localAny = "local_any"
    /// Runs on the master.
    case localMaster = "local_master"
    /// The master fans out to the nodes concerned and merges their answers.
    case distributedMaster = "distributed_master"
}

/// A distributed API request, with the reference's field names (dapi §3.1).
///
/// The one deliberate difference: `f` is the *name* of an operation compiled into the product
/// (`"cluster.health"`), never a code reference. The reference's `{"__callable__": {...}}` object,
/// or any other non-string `f`, is refused with an error that names what it tried to call, and
/// nothing runs. `f_kwargs` is opaque data: it is never tag-decoded, and each operation checks
/// its own arguments.
///
/// Reference fields we do not use (`is_async`, `local_client_arg`, `basic_services`,
/// `rbac_permissions`, `current_user`) are accepted when they have the reference's type and are
/// then ignored: in particular a caller's `rbac_permissions` are never trusted. Keys the
/// reference does not define are refused, as the reference's `DistributedAPI(**request)` refuses
/// them.
public struct DapiRequest: Sendable, Equatable {
    public var operation: String
    public var arguments: JSONObject
    public var requestType: DapiRequestType
    public var waitForComplete: Bool
    public var fromCluster: Bool
    /// The reference's snapshot of the cluster's node names. Carried, not used for routing (the
    /// nodes to ask are `f_kwargs.node_list` / `node_id`, as in the reference).
    public var nodes: [String]
    /// Seconds the executing node may spend running the operation.
    public var apiTimeout: Double?
    public var broadcasting: Bool
    /// Set when the request came as a reference code reference found in `ReferenceCallTable`:
    /// the call and its arguments as sent. Its answer is written in the reference's encoding.
    /// Never forwarded: a node of ours is sent the operation by name.
    public var reference: ReferenceOrigin?

    public init(operation: String, arguments: JSONObject = JSONObject(), requestType: DapiRequestType = .localMaster,
                waitForComplete: Bool = false, fromCluster: Bool = false, nodes: [String] = [],
                apiTimeout: Double? = nil, broadcasting: Bool = false) {
        self.operation = operation
        self.arguments = arguments
        self.requestType = requestType
        self.waitForComplete = waitForComplete
        self.fromCluster = fromCluster
        self.nodes = nodes
        self.apiTimeout = apiTimeout
        self.broadcasting = broadcasting
    }

    /// The reference's 13 keys; anything else is refused.
    static let referenceKeys: Set<String> = [
        "f", "f_kwargs", "request_type", "wait_for_complete", "from_cluster", "is_async", "local_client_arg",
        "basic_services", "rbac_permissions", "current_user", "broadcasting", "nodes", "api_timeout",
    ]

    /// The longest execution time a request may ask for (a day).
    public static let maxTimeout = 86_400.0

    public init(bytes: [UInt8]) throws {
        try DapiLimits.checkRequestSize(bytes.count)
        let json: JSON
        do { json = try JSON.parse(bytes, source: "the request") } catch let e as ClusterError {
            throw DapiError.refused("the request is not JSON: \(e.message)")
        }
        try self.init(json: json)
    }

    public init(json: JSON) throws {
        guard case .object(let o) = json else {
            throw DapiError.refused("the request must be a JSON object, got \(json.typeName)")
        }
        // `f` first, so that whatever else is wrong, a refused code reference is reported as such.
        var operation: String
        var entry: ReferenceCallEntry? = nil
        switch o["f"] {
        case .object(let f)? where f["__callable__"] != nil:
            // A reference code reference: answered only when the compiled-in table has it.
            guard let call = ReferenceCall(json: .object(f)) else { throw DapiError.refused(DapiRequest.describeNonName(.object(f))) }
            if ReferenceCallTable.authentication.contains(call) { throw ReferenceCallTable.authenticationRefusal(call) }
            guard let e = ReferenceCallTable.entry(call) else { throw DapiError.refused(DapiRequest.describeNonName(.object(f))) }
            entry = e
            operation = e.operation
        case .string(let name)?:
            guard !name.isEmpty else { throw DapiError.refused("\"f\" is empty; it must name an operation") }
            operation = name
        case nil, .null?:
            throw DapiError.refused("\"f\" is missing; it must name an operation")
        case let other?:
            throw DapiError.refused(DapiRequest.describeNonName(other))
        }
        let unknown = o.keys.filter { !DapiRequest.referenceKeys.contains($0) }
        guard unknown.isEmpty else {
            throw DapiError.refused("operation '\(operation)': unknown request field\(unknown.count > 1 ? "s" : "") \(unknown.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        func fail(_ key: String, _ expected: String, _ v: JSON) -> ClusterError {
            DapiError.refused("operation '\(operation)': \"\(key)\" must be \(expected), got \(v.typeName)")
        }
        func bool(_ key: String) throws -> Bool {
            switch o[key] {
            case nil, .null?: return false
            case .bool(let b)?: return b
            case let v?: throw fail(key, "a boolean", v)
            }
        }
        var arguments = JSONObject(), requestType = DapiRequestType.localMaster, nodes: [String] = [], apiTimeout: Double? = nil
        switch o["f_kwargs"] {
        case nil, .null?: arguments = JSONObject()
        case .object(let a)?: arguments = a
        case let v?: throw fail("f_kwargs", "an object", v)
        }
        try DapiLimits.checkArguments(arguments, operation: operation)
        switch o["request_type"] {
        case nil, .null?: requestType = .localMaster
        case .string(let t)?:
            guard let rt = DapiRequestType(rawValue: t) else {
                // The reference silently sends unknown types to the master (W18); we refuse them.
                throw DapiError.refused("operation '\(operation)': unknown request_type \"\(t)\" (local_any, local_master or distributed_master)")
            }
            requestType = rt
        case let v?: throw fail("request_type", "a string", v)
        }
        let waitForComplete = try bool("wait_for_complete")
        let fromCluster = try bool("from_cluster")
        let broadcasting = try bool("broadcasting")
        _ = try bool("is_async")
        switch o["nodes"] {
        case nil, .null?: nodes = []
        case .array(let a)?:
            nodes = try a.map { v in
                guard case .string(let s) = v else { throw fail("nodes", "an array of node names", v) }
                return s
            }
        case let v?: throw fail("nodes", "an array of node names", v)
        }
        try DapiLimits.checkNodeNames(nodes, field: "nodes", operation: operation)
        switch o["api_timeout"] {
        case nil, .null?: apiTimeout = nil
        case let v?:
            guard let t = v.doubleValue else { throw fail("api_timeout", "a number of seconds", v) }
            guard t > 0, t <= DapiRequest.maxTimeout else {
                throw DapiError.refused("operation '\(operation)': api_timeout must be above 0 and at most \(Int(DapiRequest.maxTimeout)) seconds")
            }
            apiTimeout = t
        }
        // Accepted for compatibility, checked for type, never used.
        switch o["local_client_arg"] {
        case nil, .null?, .string?: break
        case let v?: throw fail("local_client_arg", "a string or null", v)
        }
        switch o["basic_services"] {
        case nil, .null?, .array?: break
        case let v?: throw fail("basic_services", "an array", v)
        }
        switch o["rbac_permissions"] {
        case nil, .null?, .object?: break
        case let v?: throw fail("rbac_permissions", "an object", v)
        }
        switch o["current_user"] {
        case nil, .null?, .string?: break
        case let v?: throw fail("current_user", "a string", v)
        }
        var origin: ReferenceOrigin? = nil
        if let entry {
            origin = ReferenceOrigin(call: entry.call, arguments: arguments)
            arguments = try entry.translate(DapiArguments(operation: entry.call.description, arguments))
            // A request another node already fanned out runs here, whatever the entry says.
            if let t = entry.requestType, !fromCluster { requestType = t }
            operation = entry.operation
        }
        self.init(operation: operation, arguments: arguments, requestType: requestType, waitForComplete: waitForComplete,
                  fromCluster: fromCluster, nodes: nodes, apiTimeout: apiTimeout, broadcasting: broadcasting)
        reference = origin
    }

    /// Why a non-string `f` is refused, naming what it would have called.
    static func describeNonName(_ f: JSON) -> String {
        if let c = f["__callable__"] {
            let module = c["__module__"]?.stringValue
            let qualname = c["__qualname__"]?.stringValue ?? c["__name__"]?.stringValue
            let target = [module, qualname].compactMap { $0 }.joined(separator: ".")
            let shown = target.isEmpty ? String(JSONWriter.compact.string(c).prefix(120)) : target
            return "operation '\(shown)' is a code reference ({\"__callable__\": ...}); only operations registered by name run, and nothing is looked up from the request"
        }
        let text = JSONWriter.compact.string(f)
        let shown = text.count > 120 ? String(text.prefix(120)) + "..." : text
        return "\"f\" must be the name of a registered operation, got \(f.typeName) \(shown)"
    }

    /// The request as it is forwarded between nodes: only the reference fields we use.
    public var json: JSON {
        var o = JSONObject(minimumCapacity: 8)
        o["f"] = .string(operation)
        o["f_kwargs"] = .object(arguments)
        o["request_type"] = .string(requestType.rawValue)
        o["wait_for_complete"] = .bool(waitForComplete)
        o["from_cluster"] = .bool(fromCluster)
        o["broadcasting"] = .bool(broadcasting)
        o["nodes"] = .array(nodes.map(JSON.string))
        if let apiTimeout {
            o["api_timeout"] = apiTimeout.rounded() == apiTimeout ? .int(Int64(apiTimeout)) : .double(apiTimeout)
        }
        return .object(o)
    }

    public var bytes: [UInt8] { JSONWriter.python.bytes(json) }
}

/// The errors of the distributed API that are ours (no reference code fits them).
public enum DapiError {
    /// A request that will not run: unknown or unnamed operation, code reference, bad field or
    /// argument. Exit 65 in a front end.
    public static func refused(_ why: String) -> ClusterError { ClusterError.wazuh(3100, why) }

    /// The operation exists but this node cannot serve it (no agent store, not a master).
    public static func unavailable(_ why: String) -> ClusterError { ClusterError.wazuh(3101, why) }

    /// The node's queue of requests waiting to run is full.
    public static func busy(_ why: String) -> ClusterError { ClusterError.wazuh(3102, why) }
}
