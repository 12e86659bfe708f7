/// The operations compiled into the product, by name. A request names one of these; nothing
/// else can run, and nothing is looked up or imported from the request.
public struct OperationRegistry: Sendable {
    public let operations: [any DapiOperation]
    private let byName: [String: any DapiOperation]

    public init(_ operations: [any DapiOperation]) {
        self.operations = operations.sorted { $0.name < $1.name }
        var map: [String: any DapiOperation] = [:]
        for op in operations {
            precondition(map[op.name] == nil, "two operations named \(op.name)")
            map[op.name] = op
        }
        byName = map
    }

    /// Every operation the product ships. Adding one: its file under `DAPI/Operations/`, and a
    /// line here.
    public static let standard = OperationRegistry([
        ClusterNodesOperation(),
        ClusterHealthOperation(),
        ClusterConfigOperation(),
        AgentsListOperation(),
        AgentsSummaryOperation(),
        IntegrityHashOperation(),
        NodeStatsOperation(),
        NodeLogsOperation(),
        ClusterStatusOperation(),
        NodeDaemonsOperation(),
    ])

    public var names: [String] { operations.map(\.name) }

    public func operation(named name: String) -> (any DapiOperation)? { byName[name] }

    /// Reads a request, finds its operation and checks its arguments: what every node does
    /// before anything runs.
    public func prepare(_ bytes: [UInt8]) throws -> PreparedRequest {
        try prepare(DapiRequest(bytes: bytes))
    }

    public func prepare(_ request: DapiRequest) throws -> PreparedRequest {
        guard let op = byName[request.operation] else {
            throw DapiError.refused("unknown operation '\(request.operation)' (registered: \(names.joined(separator: ", ")))")
        }
        var values = request.arguments
        var targets: [String]? = nil
        let routing = DapiArguments(operation: op.name, values)
        if let id = try routing.string("node_id") {
            try DapiLimits.checkNodeNames([id], field: "node_id", operation: op.name)
            targets = [id]
        }
        if let list = try routing.list("node_list"), list != ["*"] {
            try DapiLimits.checkNodeNames(list, field: "node_list", operation: op.name)
            targets = (targets ?? []) + list
        }
        values.removeKeys(PreparedRequest.routingKeys)
        let args = DapiArguments(operation: op.name, values)
        try args.check(allowed: op.argumentNames)
        try op.validate(args)
        return PreparedRequest(request: request, operation: op, arguments: args, targetNodes: targets)
    }
}

/// A request that passed every check: its operation, its arguments without the routing keys,
/// and the nodes it names.
public struct PreparedRequest: Sendable {
    /// Arguments that choose nodes and are removed before the operation sees its arguments
    /// (as the reference removes them before forwarding).
    public static let routingKeys: Set<String> = ["node_id", "node_list"]

    public var request: DapiRequest
    public var operation: any DapiOperation
    public var arguments: DapiArguments
    /// `node_id` / `node_list`, when given (a `"*"` list means every node: nil).
    public var targetNodes: [String]?

    /// Runs the operation here.
    public func run(on node: DapiNodeContext) throws -> DapiResult {
        try operation.run(arguments, on: node)
    }

    /// Runs the operation here, its answer written directly when the operation can
    /// (`runEncoded`), else its result.
    public func answer(on node: DapiNodeContext) throws -> DapiAnswer {
        if let bytes = try operation.runEncoded(arguments, on: node) { return .encoded(bytes) }
        return .result(try operation.run(arguments, on: node))
    }

    /// The request one node of a fan-out is sent: these arguments, `from_cluster` set.
    public func request(with arguments: JSONObject) -> DapiRequest {
        var r = request
        r.arguments = arguments
        r.fromCluster = true
        return r
    }

    /// This request as one node of a fan-out runs it.
    public func narrowed(to arguments: JSONObject) -> PreparedRequest {
        PreparedRequest(request: request(with: arguments), operation: operation,
                        arguments: DapiArguments(operation: operation.name, arguments), targetNodes: nil)
    }
}
