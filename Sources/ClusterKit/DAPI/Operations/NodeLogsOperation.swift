/// `node.logs`: the tail of the node's cluster log, newest first, filtered by level and tag (or
/// subtag) and searched in the message. Across nodes the lines merge into one timeline.
public struct NodeLogsOperation: DapiOperation {
    public init() {}
    public var name: String { "node.logs" }
    public var summary: String { "The tail of the node's cluster log, filtered by level and tag." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy {
        .items(defaultSort: [DapiSortKey("timestamp", ascending: false)],
               tieBreakers: [DapiSortKey("node"), DapiSortKey("position", ascending: false)],
               alwaysSelected: [], defaultLimit: 500)
    }
    public var blocking: Bool { true }
    public var argumentNames: Set<String> { DapiPaging.pagingArguments.union(["level", "tag", "search", "tail_bytes"]) }

    /// How much of the end of the log is read by default, and at most. The tail is read whole
    /// into memory and parsed on the node's DAPI pool, whose permits several callers share.
    public static let defaultTailBytes = 8 << 20
    public static let maxTailBytes = 16 << 20

    struct Filter {
        var levels: Set<String>?
        var tags: Set<String>?
        var search: (text: String, negate: Bool)?
        var tailBytes: Int
    }

    func filter(_ args: DapiArguments) throws -> Filter {
        let levels = try args.list("level").map { Set($0.map { $0.lowercased() }) }
        if let bad = levels?.first(where: { !ClusterLogTail.levels.contains($0) }) {
            throw args.refused("level", "must be one of \(ClusterLogTail.levels.joined(separator: ", ")), got \"\(bad)\"")
        }
        let tailBytes = try args.int("tail_bytes", default: NodeLogsOperation.defaultTailBytes, range: 1...Int.max)
        // Refused rather than clamped: a caller who asked for more would otherwise take a
        // partial answer for the whole tail.
        guard tailBytes <= NodeLogsOperation.maxTailBytes else {
            throw args.refused("tail_bytes", "asks for \(tailBytes) bytes; a node reads at most the last \(NodeLogsOperation.maxTailBytes) bytes (16 MiB) of its log")
        }
        return Filter(levels: levels, tags: try args.list("tag").map { Set($0.map { $0.lowercased() }) },
                      search: try args.search().map { ($0.text.lowercased(), $0.negate) },
                      tailBytes: tailBytes)
    }

    public func validate(_ args: DapiArguments) throws {
        _ = try filter(args)
        _ = try DapiPaging(args, strategy: merge)
    }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let f = try filter(args)
        let me = node.config.nodeName
        let lines = try ClusterLogTail.read(node.logFile, maxBytes: f.tailBytes).filter { line in
            if let levels = f.levels, !levels.contains(line.level) { return false }
            if let tags = f.tags {
                let t = line.tag?.lowercased(), s = line.subtag?.lowercased()
                guard (t.map(tags.contains) ?? false) || (s.map(tags.contains) ?? false) else { return false }
            }
            if let (text, negate) = f.search {
                if line.description.lowercased().contains(text) == negate { return false }
            }
            return true
        }
        let page = try DapiPaging(args, strategy: merge).page(lines.map { $0.json(node: me) })
        return DapiResult(items: page.items, total: page.total)
    }
}
