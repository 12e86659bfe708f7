/// Merges the answers of a fan-out into one result. Unlike the reference (dapi §8, W12–W14):
/// items from every node are kept and sorted, offset and limit apply once to the union, every
/// node that failed or did not answer appears in `failed_items` with its error (never replacing
/// the others' data), and a broadcast keeps every node's answer.
public enum ResultMerge {
    public struct NodeAnswer: Sendable {
        public var node: String
        public var answer: DapiAnswer
        public init(node: String, answer: DapiAnswer) {
            self.node = node
            self.answer = answer
        }
    }

    /// The merged answer: written by `EncodedResultMerge` from the answers' bytes when it
    /// applies (the same bytes), else `merge`'s result.
    public static func answer(_ answers: [NodeAnswer], strategy: DapiMergeStrategy, arguments: DapiArguments) throws -> DapiAnswer {
        if let bytes = EncodedResultMerge.merge(answers, strategy: strategy, arguments: arguments) { return .encoded(bytes) }
        return .result(try merge(answers, strategy: strategy, arguments: arguments))
    }

    /// Whether merging `answers` is worth a hand-off from an event loop to a thread: sorting a
    /// few hundred items is cheaper than the hand-off, thousands are not (about a millisecond;
    /// the byte merge scans half a kilobyte of answer in the time a sort takes for an item).
    public static func isLarge(_ answers: [NodeAnswer]) -> Bool {
        var weight = 0
        for a in answers {
            switch a.answer {
            case .result(let r): weight += r.affectedItems.count
            case .encoded(let b): weight += b.count / 512
            case .failure: break
            }
        }
        return weight > 1000
    }

    public static func merge(_ answers: [NodeAnswer], strategy: DapiMergeStrategy, arguments: DapiArguments) throws -> DapiResult {
        var merged = DapiResult()
        var items: [JSON] = []
        var total = 0
        var summed: JSON? = nil
        for a in answers {
            switch a.answer.decoded {
            case .encoded:
                preconditionFailure("a decoded answer is a result or a failure")
            case .failure(let e):
                merged.addFailure(e, ids: [a.node])
            case .result(let r):
                merged.addFailures(of: r)
                total += r.totalAffectedItems
                switch strategy {
                case .items:
                    items.append(contentsOf: r.affectedItems)
                case .sum:
                    for item in r.affectedItems { summed = summed.map { add($0, item) } ?? item }
                }
            }
        }
        switch strategy {
        case .items:
            let paging = try DapiPaging(arguments, strategy: strategy)
            let page = paging.page(items)
            merged.affectedItems = page.items
            merged.totalAffectedItems = total
        case .sum:
            merged.affectedItems = summed.map { [$0] } ?? []
            merged.totalAffectedItems = merged.affectedItems.count
        }
        return merged
    }

    /// The reference's key-wise merge of two plain results (dapi §8.2), without its quirks:
    /// nested objects stay objects.
    public static func add(_ a: JSON, _ b: JSON) -> JSON {
        switch (a, b) {
        case (.int(let x), .int(let y)): return .int(x &+ y)
        case (.int, .double), (.double, .int), (.double, .double): return .double(a.doubleValue! + b.doubleValue!)
        case (.string(let x), .string(let y)):
            if x == y { return a }
            return .string(x + "|" + y)
        case (.array(let x), .array(let y)):
            var out = x
            for v in y where !out.contains(v) { out.append(v) }
            return .array(out)
        case (.object(let x), .object(let y)):
            var out = x
            for (k, v) in y { out[k] = x[k].map { add($0, v) } ?? v }
            return .object(out)
        case (.null, _): return b
        default: return a
        }
    }
}
