import Foundation

/// One sort key: a field name (dots reach into nested objects) and a direction.
public struct DapiSortKey: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var ascending: Bool

    public init(_ field: String, ascending: Bool = true) {
        self.field = field
        self.ascending = ascending
    }

    public var description: String { (ascending ? "+" : "-") + field }
}

/// The one ordering every node and the merge use, so that a page cut on each node and a page cut
/// after the merge agree: SQLite's order, which the agent store's `ORDER BY` follows. Null first,
/// then booleans, then numbers by value, then strings byte by byte (SQLite's BINARY collation on
/// UTF-8), then arrays and objects by their compact JSON. Descending reverses all of it.
public enum DapiSort {
    /// `"+name,-id"` (the reference API's `sort`), `["name", "-id"]`, or the reference's internal
    /// `{"fields": [...], "order": "asc"|"desc"}`.
    public static func parse(_ value: JSON?) throws -> [DapiSortKey] {
        switch value {
        case nil, .null?: return []
        case .string(let s)?:
            return try s.split(separator: ",").map { try key(String($0)) }
        case .array(let a)?:
            return try a.map { v in
                guard let s = v.stringValue else { throw DapiError.refused("sort fields must be strings, got \(v.typeName)") }
                return try key(s)
            }
        case .object(let o)?:
            let desc = o["order"]?.stringValue == "desc"
            let fields = o["fields"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return try fields.map { var k = try key($0); if desc { k.ascending.toggle() }; return k }
        case let v?:
            throw DapiError.refused("sort must be a string like \"+name,-id\", got \(v.typeName)")
        }
    }

    static func key(_ text: String) throws -> DapiSortKey {
        var f = Substring(text).drop { $0 == " " }
        while f.last == " " { f = f.dropLast() }
        var asc = true
        if f.hasPrefix("-") { asc = false; f = f.dropFirst() } else if f.hasPrefix("+") { f = f.dropFirst() }
        guard !f.isEmpty else { throw DapiError.refused("an empty sort field") }
        return DapiSortKey(String(f), ascending: asc)
    }

    /// The value of a (dotted) field of an item.
    public static func value(_ item: JSON, _ field: String) -> JSON {
        if let v = item[field] { return v }
        guard field.contains(".") else { return .null }
        var v = item
        for part in field.split(separator: ".") {
            guard let next = v[String(part)] else { return .null }
            v = next
        }
        return v
    }

    static func rank(_ v: JSON) -> Int {
        switch v {
        case .null: return 0
        case .bool: return 1
        case .int, .double: return 2
        case .string: return 3
        case .array: return 4
        case .object: return 5
        }
    }

    static func bytesLess(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }
    }

    /// -1, 0 or 1 in ascending order.
    public static func compare(_ a: JSON, _ b: JSON) -> Int {
        let ra = rank(a), rb = rank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.int(let x), .int(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        case (.string(let x), .string(let y)):
            if x == y { return 0 }
            return bytesLess(x, y) ? -1 : 1
        case (.null, .null): return 0
        default:
            if let x = a.doubleValue, let y = b.doubleValue { return x == y ? 0 : (x < y ? -1 : 1) }
            let x = JSONWriter.compact.string(a), y = JSONWriter.compact.string(b)
            if x == y { return 0 }
            return bytesLess(x, y) ? -1 : 1
        }
    }

    /// -1, 0 or 1 for two items under `keys`.
    public static func compare(_ a: JSON, _ b: JSON, by keys: [DapiSortKey], collation: DapiCollation = DapiCollation()) -> Int {
        for k in keys {
            let c = compare(collation.value(a, k.field), collation.value(b, k.field))
            if c != 0 { return k.ascending ? c : -c }
        }
        return 0
    }

    /// Sorts stably (equal items keep their order). Each item's sort values are taken once.
    public static func sort(_ items: [JSON], by keys: [DapiSortKey], collation: DapiCollation = DapiCollation()) -> [JSON] {
        guard !keys.isEmpty, items.count > 1 else { return items }
        var values = [JSON]()
        values.reserveCapacity(items.count * keys.count)
        for item in items { for key in keys { values.append(collation.value(item, key.field)) } }
        return order(values, stride: keys.count, by: keys).map { items[$0] }
    }

    /// The stable order of items given their sort values, `stride` (one per key) for each item
    /// one after another: the items' indices, sorted.
    public static func order(_ values: [JSON], stride: Int, by keys: [DapiSortKey]) -> [Int] {
        let count = stride == 0 ? 0 : values.count / stride
        return (0..<count).sorted { x, y in
            for (k, key) in keys.enumerated() {
                let c = compare(values[x * stride + k], values[y * stride + k])
                if c != 0 { return key.ascending ? c < 0 : c > 0 }
            }
            return x < y
        }
    }
}
