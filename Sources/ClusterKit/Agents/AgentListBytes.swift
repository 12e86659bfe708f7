import Foundation
import GRDBSQLite

/// A page of `agents list` written straight to JSON bytes from SQLite's buffers: the items
/// `AgentStore.list` would give, each exactly as `JSONWriter.compact` writes it, joined by
/// commas (the inside of the `affected_items` array), without building a `JSON` value per row.
///
/// A row whose columns hold what the schema puts there (text in text columns, integers in
/// integer columns, or NULL) is written directly; any other row (a file written by another
/// tool) goes through `AgentStore.listJSON` and `JSONWriter`, so the bytes are the same either way.
public struct AgentListBytes: Sendable, Equatable {
    /// The items, comma-separated.
    public var items: [UInt8] = []
    /// How many items `items` holds.
    public var count = 0
    /// Every agent that passed the filters, before offset and limit.
    public var total = 0
    /// The listed agents' ids, in order.
    public var ids: [Int] = []

    public init(total: Int = 0) { self.total = total }

    /// The columns `AgentStore` selects for a listing, in `AgentQuery.listFields` order: field
    /// `i` of `listFields` is column `i`.
    static let idColumn = 0
    static let labelsColumn = Int32(AgentRecord.fields.count + 1)
    static let groupColumn = labelsColumn + 1
    static let groupHashColumn = labelsColumn + 2
    static let dateAddColumn = labelsColumn + 5

    /// `,"<field>":` for every listed field, one after another, and where each begins (the
    /// last entry is the end): one buffer, read once per row.
    static let keyBytes: [UInt8] = AgentQuery.listFields.flatMap { Array(",\"\($0)\":".utf8) }
    static let keyOffsets: [Int] = AgentQuery.listFields.reduce(into: [0]) { $0.append($0.last! + $1.utf8.count + 4) }

    /// The storage class the schema gives each column (text or integer).
    static let columnTypes: [Int32] = AgentQuery.listFields.indices.map { c in
        switch c {
        case 0, Int(dateAddColumn): return SQLITE_INTEGER
        case 1...AgentRecord.fields.count: return AgentRecord.fields[c - 1].kind == .text ? SQLITE_TEXT : SQLITE_INTEGER
        default: return SQLITE_TEXT
        }
    }

    /// The listed fields after `id`, as column numbers, in output order: every field, or `id`
    /// and then the selected ones in the order asked, each once (as `listJSON` picks them).
    static func columns(select: [String]?) -> [Int32] {
        guard let select else { return (1..<AgentQuery.listFields.count).map(Int32.init) }
        var out = [Int32]()
        for name in select where name != "id" {
            guard let i = AgentQuery.listFields.firstIndex(of: name), !out.contains(Int32(i)) else { continue }
            out.append(Int32(i))
        }
        return out
    }

    /// Appends the statement's current row as one item; false, with nothing appended, when a
    /// column holds a type the schema does not put there.
    mutating func append(row h: OpaquePointer, columns: [Int32]) -> Bool {
        guard sqlite3_column_type(h, 0) == SQLITE_INTEGER else { return false }
        let mark = items.count
        if count > 0 { items.append(UInt8(ascii: ",")) }
        let id = Int(sqlite3_column_int64(h, 0))
        items.append(contentsOf: "{\"id\":\"".utf8)
        // AgentRecord.formatID: at least three characters, zero-padded.
        let digits = String(id)
        for _ in digits.utf8.count..<max(3, digits.utf8.count) { items.append(UInt8(ascii: "0")) }
        items.append(contentsOf: digits.utf8)
        items.append(UInt8(ascii: "\""))
        let written = AgentListBytes.keyBytes.withUnsafeBufferPointer { keys in
            AgentListBytes.columnTypes.withUnsafeBufferPointer { types in
                AgentListBytes.keyOffsets.withUnsafeBufferPointer { offsets in
                    columns.allSatisfy { c in
                        AgentListBytes.appendColumn(h, c, type: types[Int(c)],
                                                    key: UnsafeBufferPointer(rebasing: keys[offsets[Int(c)]..<offsets[Int(c) + 1]]), into: &items)
                    }
                }
            }
        }
        guard written else {
            items.removeSubrange(mark...)
            return false
        }
        items.append(UInt8(ascii: "}"))
        count += 1
        ids.append(id)
        return true
    }

    /// Appends an item already written (a row that was not written directly).
    mutating func append(item: [UInt8], id: Int) {
        if count > 0 { items.append(UInt8(ascii: ",")) }
        items.append(contentsOf: item)
        count += 1
        ids.append(id)
    }

    /// `<key><value>` for column `c` (`key` is `,"<field>":`), nothing when the field is absent
    /// from the listing; false when the column's type is not `expected`, the schema's.
    static func appendColumn(_ h: OpaquePointer, _ c: Int32, type expected: Int32, key: UnsafeBufferPointer<UInt8>,
                             into out: inout [UInt8]) -> Bool {
        let type = sqlite3_column_type(h, c)
        if type == SQLITE_NULL {
            // group_sync_status, sync_status and date_add are NOT NULL.
            return c < groupHashColumn + 1 || c > dateAddColumn
        }
        guard type == expected else { return false }
        switch c {
        case labelsColumn:
            let labels = AgentLabel.fromStored(text(h, c))
            guard !labels.isEmpty else { return true }
            out.append(contentsOf: key)
            out.append(UInt8(ascii: "["))
            for (i, l) in labels.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: "{\"key\":".utf8)
                JSONEscaping.appendCompact(l.key, into: &out)
                out.append(contentsOf: ",\"value\":".utf8)
                JSONEscaping.appendCompact(l.value, into: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        case groupColumn:
            let groups = AgentGroups.split(text(h, c))
            guard !groups.isEmpty else { return true }
            out.append(contentsOf: key)
            out.append(UInt8(ascii: "["))
            for (i, g) in groups.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONEscaping.appendCompact(g, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            out.append(contentsOf: key)
            if type == SQLITE_INTEGER {
                JSONEscaping.appendDecimal(sqlite3_column_int64(h, c), into: &out)
            } else {
                appendText(h, c, into: &out)
            }
        }
        return true
    }

    /// A text column as a JSON string, as the `String` GRDB reads it would be written: SQLite's
    /// bytes when they are valid UTF-8 without NUL (the usual case), else through that `String`
    /// (read up to the first NUL, invalid sequences replaced).
    static func appendText(_ h: OpaquePointer, _ c: Int32, into out: inout [UInt8]) {
        guard let p = sqlite3_column_text(h, c) else { out.append(contentsOf: "\"\"".utf8); return }
        let raw = UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(h, c)))
        if !JSONEscaping.appendCompactChecked(raw, into: &out) {
            JSONEscaping.appendCompact(String(cString: p), into: &out)
        }
    }

    /// A text column as GRDB reads it into a `String`.
    static func text(_ h: OpaquePointer, _ c: Int32) -> String {
        sqlite3_column_text(h, c).map { String(cString: $0) } ?? ""
    }
}
