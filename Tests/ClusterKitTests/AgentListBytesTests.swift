import Foundation
import GRDB
import Testing
@testable import ClusterKit

/// `AgentStore.listBytes` writes rows straight from SQLite: its items must be exactly what the
/// general listing's values give through `JSONWriter.compact`, whatever the rows hold.
@Suite struct AgentListBytesTests {
    /// The general listing's items, written as the DAPI writes them, comma-separated.
    static func generalBytes(_ store: AgentStore, _ q: AgentQuery) throws -> (items: [UInt8], total: Int, ids: [String]) {
        let answer = try store.list(q)
        let items = answer["items"]?.arrayValue ?? []
        var out = [UInt8]()
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += JSONWriter.compact.bytes(item)
        }
        return (out, Int(answer["totalItems"]?.intValue ?? -1), items.map { $0["id"]?.stringValue ?? "?" })
    }

    /// A store with varied agents on three nodes: repeated and missing names, escapes, non-ASCII,
    /// control characters, labels, groups; and rows another tool wrote with types the schema
    /// does not put there (a blob name, text and a real in integer columns, NUL and invalid
    /// UTF-8 in text).
    static func variedStore() throws -> TemporaryStore {
        let t = try TemporaryStore()
        var rng = TestBytes(seed: 17)
        let names = ["alpha", "Beta", "alpha", "épsilon", "e\u{301}psilon", "quote\" back\\slash", "tab\tnew\nline\u{1}\u{1f}", "中文 😀", "/slash/", "\u{7f}del", ""]
        var records = [AgentRecord]()
        for id in 1...240 {
            var r = AgentRecord(id: id)
            let name = names[rng.below(names.count)]
            r["name"] = .text(name.isEmpty ? "agent-\(id % 17)" : name)
            for (i, f) in AgentRecord.fields.enumerated() where f.name != "name" && f.name != "node_name" && rng.below(3) == 0 {
                r.values[i] = f.kind == .text ? .text(names[rng.below(names.count - 1)]) : .integer(Int64(rng.below(1 << 20)) - (f.name == "status_code" ? 5 : 0))
            }
            r["connection_status"] = .text(["active", "disconnected", "pending", "never_connected"][rng.below(4)])
            r["group_config_status"] = rng.below(2) == 0 ? nil : .text("synced")
            r["node_name"] = .text(["worker-1", "worker-2", "master-node"][rng.below(3)])
            switch rng.below(3) {
            case 0: r.labels = nil
            case 1: r.labels = []
            default: r.labels = [AgentLabel(key: names[rng.below(names.count - 1)], value: "v"), AgentLabel(key: "k", value: names[rng.below(names.count - 1)])]
            }
            records.append(r)
        }
        #expect(try t.store.upsert(records, defaultNode: "worker-1").isEmpty)
        var groups = [AgentGroupsEntry]()
        for id in stride(from: 1, through: 240, by: 3) {
            groups.append(AgentGroupsEntry(id: id, groups: [["default"], ["default", "web"], ["web"], ["db", "web"]][rng.below(4)]))
        }
        #expect(try t.store.setGroups(groups).isEmpty)
        try t.store.write { db in
            try db.execute(sql: "UPDATE agent SET name = CAST('blob-name' AS BLOB) WHERE id = 5")
            try db.execute(sql: "UPDATE agent SET last_keepalive = 'yesterday' WHERE id = 6")
            try db.execute(sql: "UPDATE agent SET last_keepalive = 1.5 WHERE id = 7")
            try db.execute(sql: "UPDATE agent SET os_name = CAST(X'61006263' AS TEXT) WHERE id = 8")
            try db.execute(sql: "UPDATE agent SET ip = CAST(X'41FF42C3' AS TEXT) WHERE id = 9")
            try db.execute(sql: "UPDATE agent SET labels = 'not json' WHERE id = 10")
            try db.execute(sql: "UPDATE agent SET groups = '' WHERE id = 11")
            try db.execute(sql: "UPDATE agent SET groups = CAST(X'FE' AS TEXT), group_hash = CAST(X'6100' AS TEXT) WHERE id = 12")
        }
        return t
    }

    /// Many queries (filters, sorts both ways with ties, offsets past the end, limit 0, select in
    /// any order with repeats): the bytes, totals and ids are the general listing's.
    @Test func bytesAreTheGeneralListing() throws {
        let t = try Self.variedStore()
        let sorts = ["", "name", "-name", "-name,id", "+name,-id,node_name", "version,-last_keepalive", "group,-id", "-date_add,name",
                     "connection_status,-os_name", "ip", "-group_hash,status_code"]
        let selects: [String?] = [nil, "name", "name,ip,name,id", "group,labels,date_add,sync_status", "last_keepalive,os_name,group_hash"]
        var checked = 0, written = 0
        for sort in sorts {
            for (n, select) in selects.enumerated() {
                for (offset, limit) in [(0, 10), (0, nil), (7, 25), (230, 50), (500, 10), (3, 0)] as [(Int, Int?)] {
                    var q = AgentQuery()
                    q.sort = try AgentQuery.parseSort(sort)
                    q.select = try select.map(AgentQuery.parseSelect)
                    q.offset = offset
                    q.limit = limit
                    switch (n + offset) % 5 {
                    case 1: q.nodes = ["worker-2"]
                    case 2: q.statuses = ["active", "pending"]
                    case 3: q.groups = ["web"]
                    case 4: q.ids = [1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 99, 500]
                    default: break
                    }
                    let general = try Self.generalBytes(t.store, q)
                    let fast = try t.store.listBytes(q)
                    let same = fast.items == general.items
                    #expect(same, "sort \(sort) select \(select ?? "-") offset \(offset) limit \(limit ?? -1)")
                    #expect(fast.total == general.total && fast.count == general.ids.count)
                    #expect(fast.ids.map(AgentRecord.formatID) == general.ids)
                    checked += 1
                    written += fast.count
                }
            }
        }
        #expect(checked == sorts.count * selects.count * 6 && written > 1000)
        // The odd rows are there, as the general listing shows them.
        var q = AgentQuery()
        q.ids = Array(5...12)
        let odd = try String(decoding: t.store.listBytes(q).items, as: UTF8.self)
        #expect(odd.contains(#""name":"blob-name""#) && odd.contains(#""os_name":"a""#) && odd.contains("A\u{FFFD}B\u{FFFD}"))
    }

    /// A store written before the name index (schema v2) opens with its rows, and gets the index.
    @Test func anExistingStoreGetsTheIndex() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agents-v2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("agents.db").path
        do {
            let old = try DatabasePool(path: path)
            try AgentStoreSchema.migrator.migrate(old, upTo: "v2: agents deleted on the master")
            try old.write { db in
                try db.execute(sql: "INSERT INTO agent (id, name, node_name, connection_status) VALUES (1, 'b', 'w', 'active'), (2, 'a', 'w', 'active')")
            }
            #expect(try old.read { db in try db.indexes(on: "agent").contains { $0.name == "agent_node_name" } } == false)
        }
        let store = try AgentStore(path: path)
        let indexes = try store.read { db in try db.indexes(on: "agent") }
        #expect(indexes.first { $0.name == "agent_node_name" }?.columns == ["node_name", "name"])
        var q = AgentQuery()
        q.nodes = ["w"]
        // The order the distributed API asks for: name, then its tie-breakers.
        q.sort = try AgentQuery.parseSort("name,id,node_name")
        #expect(String(decoding: try store.listBytes(q).items, as: UTF8.self).hasPrefix(#"{"id":"002","name":"a""#))
        // A node's page by name is read from the index, in order, not sorted afterwards.
        let plan = try store.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + AgentStore.listSQL(q.whereClause().sql, q), arguments: AgentStore.listArguments(q.whereClause().args, q))
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("agent_node_name") } && !plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
    }
}
