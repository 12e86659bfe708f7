import Foundation

/// What `agents list` asks of a store: filters, then sort, offset and limit, then select.
///
/// Filters of one kind are alternatives (`statuses: ["active", "pending"]`); kinds combine (a
/// status *and* a node). Sort keys are field names with an optional `+` (ascending, the
/// default) or `-` prefix, as the reference API's `sort`; the id breaks ties. `id` is always in
/// the output, whatever `select` says.
public struct AgentQuery: Sendable, Equatable {
    public var ids: [Int] = []
    public var statuses: [String] = []
    public var nodes: [String] = []
    public var groups: [String] = []
    public var select: [String]? = nil
    public var sort: [SortKey] = []
    public var offset = 0
    public var limit: Int? = nil

    public struct SortKey: Sendable, Equatable {
        public var field: String
        public var ascending: Bool
        public init(field: String, ascending: Bool) {
            self.field = field
            self.ascending = ascending
        }
    }

    public init() {}

    /// Every field a listed agent can have, in output order.
    public static let listFields: [String] = ["id"] + AgentRecord.fields.map(\.name)
        + ["labels", "group", "group_hash", "group_sync_status", "sync_status", "date_add"]
    static let sortable: Set<String> = Set(listFields).subtracting(["labels"])

    /// The column behind a field name.
    static func column(_ field: String) -> String { field == "group" ? "groups" : field }

    public static func parseSort(_ text: String) throws -> [SortKey] {
        try text.split(separator: ",").map { part in
            var f = AgentQuery.trimmed(part)
            var asc = true
            if f.hasPrefix("-") { asc = false; f.removeFirst() } else if f.hasPrefix("+") { f.removeFirst() }
            guard sortable.contains(f) else {
                throw ClusterError.usage("cannot sort by \"\(f)\"; fields: \(sortable.sorted().joined(separator: ", "))")
            }
            return SortKey(field: f, ascending: asc)
        }
    }

    public static func parseSelect(_ text: String) throws -> [String] {
        let fields = text.split(separator: ",").map(AgentQuery.trimmed).filter { !$0.isEmpty }
        for f in fields where !listFields.contains(f) {
            throw ClusterError(code: 1724, "Not a valid select field: \(f); fields: \(listFields.joined(separator: ", "))", exit: .usage)
        }
        return fields
    }

    /// `s.trimmingCharacters(in: .whitespaces)`, without Foundation when there is nothing to
    /// trim (the usual case: names the distributed API wrote itself).
    static func trimmed(_ s: Substring) -> String {
        func space(_ c: Unicode.Scalar) -> Bool { c == "\t" || c.properties.generalCategory == .spaceSeparator }
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last, space(first) || space(last) else { return String(s) }
        return s.trimmingCharacters(in: .whitespaces)
    }

    public func validate() throws {
        for s in statuses where !AgentRecord.connectionStatuses.contains(s) {
            throw ClusterError.usage("status must be one of \(AgentRecord.connectionStatuses.sorted().joined(separator: ", ")), got \"\(s)\"")
        }
        for g in groups { try AgentGroups.validate(g) }
        guard offset >= 0 else { throw ClusterError.usage("offset must not be negative") }
        if let limit, limit < 0 { throw ClusterError.usage("limit must not be negative") }
    }

    /// The WHERE clause (or "") and its arguments.
    func whereClause() -> (sql: String, args: [String]) {
        var parts = [String]()
        var args = [String]()
        func anyOf(_ column: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            parts.append("\(column) IN (\(values.map { _ in "?" }.joined(separator: ",")))")
            args.append(contentsOf: values)
        }
        if !ids.isEmpty { parts.append("id IN (\(ids.map(String.init).joined(separator: ",")))") }
        anyOf("connection_status", statuses)
        anyOf("node_name", nodes)
        if !groups.isEmpty {
            parts.append("(" + groups.map { _ in "instr(',' || groups || ',', ',' || ? || ',') > 0" }.joined(separator: " OR ") + ")")
            args.append(contentsOf: groups)
        }
        return (parts.isEmpty ? "" : " WHERE " + parts.joined(separator: " AND "), args)
    }

    func orderClause() -> String {
        var keys = sort.map { "\(AgentQuery.column($0.field)) \($0.ascending ? "ASC" : "DESC")" }
        if !sort.contains(where: { $0.field == "id" }) { keys.append("id ASC") }
        return " ORDER BY " + keys.joined(separator: ", ")
    }
}
