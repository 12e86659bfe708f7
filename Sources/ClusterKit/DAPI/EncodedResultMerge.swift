import Foundation

/// The items merge (`ResultMerge`) over answers kept in their bytes: each node's items are found
/// by scanning its answer (`CompactJSONReader`), only their sort fields are read into values,
/// and the page's items are copied through (their selected members, under `select`), instead
/// of building every value of every answer and writing the page again.
///
/// It gives exactly the bytes `ResultMerge.merge` and `DapiResult.bytes` give for the same
/// answers, or nothing: when an answer is not in the form `DapiResult.bytes` writes (so that
/// copying its items is writing them again), when a sort field reaches into nested objects, or
/// when a name is not ASCII (so that comparing bytes is comparing strings), it answers nil and
/// the general merge runs.
public enum EncodedResultMerge {
    /// One item of one answer: where it is, and its sort values (in the order's keys).
    struct Item {
        var answer: Int
        var span: Range<Int>
    }

    /// The merged answer's bytes, or nil when this merge does not apply.
    public static func merge(_ answers: [ResultMerge.NodeAnswer], strategy: DapiMergeStrategy, arguments: DapiArguments) -> [UInt8]? {
        guard case .items = strategy, answers.contains(where: { if case .encoded = $0.answer { true } else { false } }),
              let paging = try? DapiPaging(arguments, strategy: strategy) else { return nil }
        guard let sortNames = names(paging.sort.map(\.field)), !paging.sort.contains(where: { $0.field.contains(".") }),
              let kept = names((paging.select ?? []) + paging.alwaysSelected) else { return nil }
        let stride = paging.sort.count

        var merged = DapiResult()
        var total = 0
        var bytes: [[UInt8]] = []
        var streams: [[Item]] = []
        var values: [[JSON]] = []
        var simple = true
        for a in answers {
            switch a.answer {
            case .failure(let e):
                merged.addFailure(e, ids: [a.node])
            case .encoded(let b):
                let index = bytes.count
                var items: [Item] = []
                var sortValues: [JSON] = []
                guard let nodeTotal = read(b, answer: index, sortNames: sortNames, collation: paging.collation,
                                           fields: paging.sort.map(\.field), items: &items, values: &sortValues, simple: &simple, failures: &merged)
                else { return nil }
                let (sum, overflow) = total.addingReportingOverflow(nodeTotal)
                guard !overflow else { return nil }
                total = sum
                bytes.append(b)
                streams.append(items)
                values.append(sortValues)
            case .result:
                return nil
            }
        }

        let wanted = paging.offset.addingReportingOverflow(paging.limit)
        let end = wanted.overflow ? Int.max : wanted.partialValue
        let page = order(streams, values: values, simple: simple, stride: stride, keys: paging.sort, first: end)
            .dropFirst(paging.offset).prefix(paging.limit)

        var out = [UInt8]()
        out.reserveCapacity(page.reduce(0) { $0 + $1.span.count + 1 })
        for (n, item) in page.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            if paging.select == nil {
                out.append(contentsOf: bytes[item.answer][item.span])
            } else {
                project(bytes[item.answer], item.span, keeping: kept, into: &out)
            }
        }
        merged.totalAffectedItems = total
        return merged.bytes(encodedItems: out)
    }

    /// Field names as their keys are written (between the quotes); nil when one is not ASCII.
    static func names(_ fields: [String]) -> [[UInt8]]? {
        var out = [[UInt8]]()
        for f in fields {
            guard f.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
            var quoted = [UInt8]()
            JSONEscaping.appendCompact(f, into: &quoted)
            out.append(Array(quoted.dropFirst().dropLast()))
        }
        return out
    }

    static let affectedItems = Array("{\"affected_items\":[".utf8)
    static let totalAffected = Array(",\"total_affected_items\":".utf8)
    static let failedItems = Array(",\"failed_items\":".utf8)
    static let totalFailed = Array(",\"total_failed_items\":".utf8)

    /// Reads one answer in `DapiResult.bytes`' form: its items (spans and sort values), its failed
    /// items into `failures`; returns its total, or nil when the answer is not in that form.
    /// `simple` is cleared when a sort value is anything but null, a boolean, an integer or an
    /// ASCII string (values whose order is a plain total order), or may be.
    static func read(_ answer: [UInt8], answer index: Int, sortNames: [[UInt8]], collation: DapiCollation, fields: [String],
                     items: inout [Item], values: inout [JSON], simple: inout Bool, failures: inout DapiResult) -> Int? {
        answer.withUnsafeBytes { raw -> Int? in
            // Inside the result object and its array, as JSONScanner counts depth.
            var r = CompactJSONReader(raw, depth: 2)
            guard r.take(affectedItems) else { return nil }
            let rules = fields.map(collation.rule)
            var found = [Range<Int>?](repeating: nil, count: sortNames.count)
            if !r.take(UInt8(ascii: "]")) {
                repeat {
                    let start = r.i
                    for k in found.indices { found[k] = nil }
                    guard r.enterObject() else { return nil }
                    if !r.take(UInt8(ascii: "}")) {
                        repeat {
                            guard let key = r.key() else { return nil }
                            let valueStart = r.i
                            guard r.skipValue() else { return nil }
                            for (k, name) in sortNames.enumerated() where r.bytes(key, equal: name) { found[k] = valueStart..<r.i }
                        } while r.take(UInt8(ascii: ","))
                        guard r.take(UInt8(ascii: "}")) else { return nil }
                    }
                    r.leaveObject()
                    items.append(Item(answer: index, span: start..<r.i))
                    for k in fields.indices {
                        var v = JSON.null
                        if let span = found[k] {
                            guard let read = value(raw, span, simple: &simple) else { return nil }
                            v = read
                        }
                        values.append(DapiCollation.sortValue(v, rules[k]))
                    }
                } while r.take(UInt8(ascii: ","))
                guard r.take(UInt8(ascii: "]")) else { return nil }
            }
            // The result object's other members.
            r.depth = 1
            guard r.take(totalAffected), let total = r.integer(), r.take(failedItems) else { return nil }
            let failedStart = r.i
            guard r.skipValue() else { return nil }
            if !r.bytes(failedStart..<r.i, equal: emptyArray) {
                guard case .array(let groups)? = try? JSONScanner.parse(UnsafeRawBufferPointer(rebasing: raw[failedStart..<r.i])),
                      (try? failures.addFailedItems(groups)) != nil else { return nil }
            }
            guard r.take(totalFailed), r.skipValue(), r.take(UInt8(ascii: "}")), r.atEnd, let n = Int(exactly: total) else { return nil }
            return n
        }
    }

    /// The value of an accepted span, as JSONScanner reads it: a string without escapes is its
    /// bytes (and, when they are not all ASCII, no longer simple); anything else is parsed.
    static func value(_ raw: UnsafeRawBufferPointer, _ span: Range<Int>, simple: inout Bool) -> JSON? {
        if raw[span.lowerBound] == UInt8(ascii: "\"") {
            let inner = UnsafeRawBufferPointer(rebasing: raw[span.lowerBound + 1..<span.upperBound - 1])
            if inner.isEmpty || memchr(inner.baseAddress!, 0x5C, inner.count) == nil {
                if simple && !ByteWords.isASCII(inner) { simple = false }
                return .string(String(decoding: inner, as: UTF8.self))
            }
        }
        let v = try? JSONScanner.parse(UnsafeRawBufferPointer(rebasing: raw[span]))
        if simple, let v, !isSimple(v) { simple = false }
        return v
    }

    static func isSimple(_ v: JSON) -> Bool {
        switch v {
        case .null, .bool, .int: return true
        case .string(let s): return s.utf8.allSatisfy { $0 < 0x80 }
        case .double, .array, .object: return false
        }
    }

    static let emptyArray = Array("[]".utf8)

    /// The first `count` items of every stream in the merged order: the order a stable sort of
    /// the streams one after another gives (`DapiSort.order`). When every sort value is simple
    /// (`isSimple`: the comparison is then a total order) and each stream is already in that
    /// order, as every node sends its items, the streams are merged; otherwise all is sorted.
    static func order(_ streams: [[Item]], values: [[JSON]], simple: Bool, stride: Int, keys: [DapiSortKey], first count: Int) -> [Item] {
        if keys.isEmpty { return Array(streams.joined().prefix(count)) }
        func compare(_ s: Int, _ a: Int, _ t: Int, _ b: Int) -> Int {
            for (k, key) in keys.enumerated() {
                let c = DapiSort.compare(values[s][a * stride + k], values[t][b * stride + k])
                if c != 0 { return key.ascending ? c : -c }
            }
            return 0
        }
        let inOrder = simple && streams.indices.allSatisfy { s in
            streams[s].indices.dropFirst().allSatisfy { compare(s, $0 - 1, s, $0) <= 0 }
        }
        guard inOrder else {
            // A stable sort of everything, as the general merge sorts.
            var all: [Item] = [], flat: [JSON] = []
            for s in streams.indices {
                all.append(contentsOf: streams[s])
                flat.append(contentsOf: values[s])
            }
            return DapiSort.order(flat, stride: stride, by: keys).prefix(count).map { all[$0] }
        }
        // A k-way merge; of equal items the earlier stream's first, as a stable sort keeps them.
        var heads = [Int](repeating: 0, count: streams.count)
        var out: [Item] = []
        out.reserveCapacity(min(count, streams.reduce(0) { $0 + $1.count }))
        while out.count < count {
            var best = -1
            for s in streams.indices where heads[s] < streams[s].count {
                if best < 0 || compare(s, heads[s], best, heads[best]) < 0 { best = s }
            }
            guard best >= 0 else { break }
            out.append(streams[best][heads[best]])
            heads[best] += 1
        }
        return out
    }

    /// An item with only the members whose keys are in `kept` (`DapiPaging.project`), in its order.
    static func project(_ answer: [UInt8], _ span: Range<Int>, keeping kept: [[UInt8]], into out: inout [UInt8]) {
        answer.withUnsafeBytes { raw in
            var r = CompactJSONReader(UnsafeRawBufferPointer(rebasing: raw[..<span.upperBound]))
            r.i = span.lowerBound
            _ = r.enterObject()
            out.append(UInt8(ascii: "{"))
            var first = true
            if !r.take(UInt8(ascii: "}")) {
                repeat {
                    let memberStart = r.i
                    guard let key = r.key(), r.skipValue() else { return }
                    if kept.contains(where: { r.bytes(key, equal: $0) }) {
                        if !first { out.append(UInt8(ascii: ",")) }
                        first = false
                        out.append(contentsOf: raw[memberStart..<r.i])
                    }
                } while r.take(UInt8(ascii: ","))
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
