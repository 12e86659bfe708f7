/// `integrity.hash`: the node's `{path: BLAKE2b-512}` for its user rules, decoders and lists, as
/// the reference's `get_hash` (the ruleset-synchronisation check compares these across nodes).
public struct IntegrityHashOperation: DapiOperation {
    public init() {}
    public var name: String { "integrity.hash" }
    public var summary: String { "The node's {path: hash} of etc/rules/, etc/decoders/ and etc/lists/." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy {
        .items(defaultSort: [DapiSortKey("node")], tieBreakers: [], alwaysSelected: [], defaultLimit: 500)
    }
    public var blocking: Bool { true }
    public var argumentNames: Set<String> { DapiPaging.pagingArguments }

    /// The rules `get_hash` walks.
    public static let rulesetKeys = ["etc/rules/", "etc/decoders/", "etc/lists/"]

    public func validate(_ args: DapiArguments) throws { _ = try DapiPaging(args, strategy: merge) }

    /// `{path: hash}` of the ruleset files under `config.root`.
    public static func hashes(_ config: ClusterConfig) throws -> JSONObject {
        let all = config.fileRules
        let rules = FileRules(rules: all.rules.filter { rulesetKeys.contains($0.key) },
                              excludedFiles: all.excludedFiles, excludedExtensions: all.excludedExtensions)
        let snapshot = try Scanner(root: config.root, rules: rules).scan().snapshot
        var out = JSONObject(minimumCapacity: snapshot.count)
        for (path, record) in snapshot { out[path] = .string(record.hash) }
        return out
    }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let item: JSON = ["node": .string(node.config.nodeName), "hashes": .object(try IntegrityHashOperation.hashes(node.config))]
        let page = try DapiPaging(args, strategy: merge).page([item])
        return DapiResult(items: page.items, total: page.total)
    }
}
