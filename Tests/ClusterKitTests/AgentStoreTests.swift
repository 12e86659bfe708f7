import Foundation
import Testing
@testable import ClusterKit

/// A store in a temporary directory, removed with the value.
final class TemporaryStore: @unchecked Sendable {
    let dir: URL
    let store: AgentStore

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("agents-\(UUID().uuidString)")
        store = try AgentStore(path: dir.appendingPathComponent("var/db/agents.db").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }
}

@Suite struct AgentRecordTests {
    static func record(_ id: Int, name: String? = nil, keepalive: Int64? = nil, status: String = "active",
                       node: String? = nil) -> AgentRecord {
        var r = AgentRecord(id: id)
        r["name"] = .text(name ?? "agent-\(id)")
        r["ip"] = .text("10.0.\(id / 256).\(id % 256)")
        r["os_name"] = .text("Ubuntu")
        r["version"] = .text("Wazuh v4.9.2")
        r["connection_status"] = .text(status)
        if let keepalive { r["last_keepalive"] = .integer(keepalive) }
        if let node { r["node_name"] = .text(node) }
        return r
    }

    @Test func idsInBothForms() throws {
        #expect(try AgentRecord.parseID("001") == 1)
        #expect(try AgentRecord.parseID(.int(42)) == 42)
        #expect(AgentRecord.formatID(1) == "001")
        #expect(AgentRecord.formatID(1234) == "1234")
        for bad: JSON in ["000", "0", 0, "-1", "1a", "", 1.5, true, .null] {
            #expect(throws: ClusterError.self) { try AgentRecord.parseID(bad) }
        }
    }

    /// The direct writer prints exactly what the JSON writer prints for the same object.
    @Test func wireBytesAreTheCompactJSON() {
        var rng = TestBytes(seed: 3)
        let texts = ["", "plain", "quote\" back\\slash", "tab\tnew\nline\u{1}", "é ü 中文 😀", "/slash/"]
        for id in 1...300 {
            var r = AgentRecord(id: id)
            for (i, f) in AgentRecord.fields.enumerated() where rng.below(3) > 0 {
                r.values[i] = f.kind == .text ? .text(texts[rng.below(texts.count)]) : .integer(Int64(rng.below(1 << 30)) - 5)
            }
            switch rng.below(3) {
            case 0: r.labels = nil
            case 1: r.labels = []
            default: r.labels = [AgentLabel(key: texts[rng.below(texts.count)], value: texts[rng.below(texts.count)]), AgentLabel(key: "k", value: "v")]
            }
            #expect(r.wireBytes() == JSONWriter.compact.bytes(r.wireJSON))
        }
    }

    @Test func strictAndLenientReading() throws {
        let json = try JSON.parse(#"{"id":"007","name":"web","last_keepalive":1700000000,"connection_status":"active","labels":{"env":"prod"}}"#)
        let r = try AgentRecord(json: json, strict: true)
        #expect(r.id == 7 && r.name == "web" && r.lastKeepalive == 1_700_000_000)
        #expect(r.labels == [AgentLabel(key: "env", value: "prod")])
        // Wire form: integer id, reference order, labels with the agent id.
        #expect(String(decoding: r.wireBytes(), as: UTF8.self)
                == #"{"id":7,"name":"web","last_keepalive":1700000000,"connection_status":"active","labels":[{"id":7,"key":"env","value":"prod"}]}"#)

        let unknown = try JSON.parse(#"{"id":1,"name":"a","future_field":1}"#)
        #expect(throws: ClusterError.self) { try AgentRecord(json: unknown, strict: true) }
        #expect(try AgentRecord(json: unknown, strict: false).name == "a")
        for bad in [#"{"id":1,"name":5}"#, #"{"id":1,"connection_status":"sleeping"}"#, #"{"id":1,"last_keepalive":"yesterday"}"#,
                    #"{"id":1,"group":["default"]}"#, #"{"name":"no id"}"#, #"[1]"#, #"{"id":1,"name":""}"#] {
            #expect(throws: ClusterError.self, "\(bad)") { try AgentRecord(json: try JSON.parse(bad), strict: true) }
        }
        let huge: JSON = ["id": 1, "name": .string(String(repeating: "x", count: 70_000))]
        #expect(throws: ClusterError.self) { try AgentRecord(json: huge, strict: true) }
    }
}

/// Synchronous doors to the store's async operations (the same transaction bodies): tests that
/// never suspend finish in milliseconds, where a suspended test can wait seconds behind the long
/// synchronous tool tests for one of the two cooperative threads of this machine.
extension AgentStore {
    func markPushedNow(upTo seq: Int64) throws { try write { try AgentStore.markPushed($0, seq) } }
    func markPushedNow(_ push: PendingAgentInfo) throws { try write { try AgentStore.markPushed($0, push.seq, throughID: push.throughID) } }
    func applyNow(_ push: AgentInfoChunks, from node: String, timeLimit: Double,
                  keepaliveSkew: Double = AgentStore.defaultKeepaliveSkew) throws -> AgentInfoOutcome {
        try write { try AgentStore.apply($0, push, node: node, timeLimit: timeLimit, keepaliveSkew: keepaliveSkew) }
    }
    func takeDeltasNow() throws -> (entries: [AgentGroupsEntry], hash: String?) { try write(AgentStore.takeDeltas) }
    func applyGroupsNow(_ entries: [AgentGroupsEntry], full: Bool) throws {
        try write { try AgentStore.applyGroups($0, entries, full: full) }
    }
    func allGroupsNow() throws -> [AgentGroupsEntry] { try read(AgentStore.allGroups) }
    func recalculateNow() throws -> Int { try write(AgentStore.recalculate) }
}

@Suite struct AgentStoreTests {
    @Test func upsertListFiltersAndPaging() throws {
        let t = try TemporaryStore()
        var records = (1...30).map { AgentRecordTests.record($0, status: $0 % 3 == 0 ? "disconnected" : "active") }
        records[4]["node_name"] = .text("other")
        #expect(try t.store.upsert(records, defaultNode: "worker-1").isEmpty)
        #expect(try t.store.count() == 30)

        var q = AgentQuery()
        q.statuses = ["disconnected"]
        #expect(try t.store.list(q)["totalItems"] == 10)
        q = AgentQuery()
        q.nodes = ["other"]
        let other = try t.store.list(q)
        #expect(other["items"]?[0]?["id"] == "005")
        q = AgentQuery()
        q.sort = try AgentQuery.parseSort("-id")
        q.offset = 2
        q.limit = 3
        q.select = try AgentQuery.parseSelect("name,node_name")
        let page = try t.store.list(q)
        #expect(page["totalItems"] == 30)
        #expect(page["items"] == [["id": "028", "name": "agent-28", "node_name": "worker-1"],
                                  ["id": "027", "name": "agent-27", "node_name": "worker-1"],
                                  ["id": "026", "name": "agent-26", "node_name": "worker-1"]])
        #expect(throws: ClusterError.self) { try AgentQuery.parseSelect("nope") }
        #expect(throws: ClusterError.self) { try AgentQuery.parseSort("labels") }

        // A partial update keeps the other fields; a new agent needs a name.
        var change = AgentRecord(id: 2)
        change["connection_status"] = .text("disconnected")
        var nameless = AgentRecord(id: 99)
        nameless["ip"] = .text("1.2.3.4")
        let errors = try t.store.upsert([change, nameless], defaultNode: "worker-1")
        #expect(errors.keys.sorted() == [1])
        let two = try #require(try t.store.agent(2))
        #expect(two.name == "agent-2" && two["connection_status"] == .text("disconnected") && two.nodeName == "worker-1")
        #expect(try t.store.agent(99) == nil)

        #expect(try t.store.activeAgentCountsNow() == ["worker-1": 18, "other": 1])
        let removeErrors = try t.store.remove(ids: [3, 3, 500])
        #expect(removeErrors.keys.sorted() == [1, 2])
        #expect(try t.store.agent(3) == nil)
    }

    /// A row changed while a push is in flight stays pending; a push without confirmation
    /// leaves everything pending.
    @Test func atLeastOncePushMarking() throws {
        let t = try TemporaryStore()
        let s = t.store
        _ = try s.upsert((1...5).map { AgentRecordTests.record($0) }, defaultNode: "w1")
        _ = try s.remove(ids: [5])
        let first = try s.pendingAgentInfoNow()
        #expect(first.rows.count == 4 && first.removed == [5])

        // Not confirmed: still all there.
        #expect(try s.pendingAgentInfoNow().rows.count == 4)

        // Agent 2 changes and 6 arrives after the snapshot, then the master confirms the snapshot.
        var change = AgentRecord(id: 2)
        change["last_keepalive"] = .integer(99)
        _ = try s.upsert([change, AgentRecordTests.record(6)], defaultNode: "w1")
        try s.markPushedNow(upTo: first.seq)
        let second = try s.pendingAgentInfoNow()
        #expect(second.removed.isEmpty)
        let ids = try second.rows.map { try JSON.parse($0)["id"]!.intValue! }
        #expect(ids == [2, 6])
        try s.markPushedNow(upTo: second.seq)
        #expect(try s.hasPendingAgentInfoNow() == false)
        // Re-adding a removed agent cancels its pending removal.
        _ = try s.remove(ids: [6])
        _ = try s.upsert([AgentRecordTests.record(6)], defaultNode: "w1")
        #expect(try s.pendingAgentInfoNow().removed.isEmpty)
    }

    /// A push bounded in bytes takes the pending rows in id order up to the bound; confirming it
    /// clears only those, so the rest (and rows changed meanwhile) go in the next push.
    @Test func boundedPushesTakeThePendingRowsInTurn() throws {
        let t = try TemporaryStore()
        let s = t.store
        _ = try s.upsert((1...10).map { AgentRecordTests.record($0) }, defaultNode: "w1")
        _ = try s.remove(ids: [10])
        let all = try s.pendingAgentInfoNow().rows
        // The row that reaches the bound is the last: 1...4.
        let bound = all[0..<3].reduce(0) { $0 + $1.count } + 1
        let first = try s.pendingAgentInfoNow(maxRowBytes: bound)
        #expect(first.rows == Array(all[0..<4]) && first.throughID == 4 && first.isPartial && first.removed == [10])
        // Agents 2 and 7 change while the push is in flight.
        var change = AgentRecord(id: 2)
        change["last_keepalive"] = .integer(99)
        var later = AgentRecord(id: 7)
        later["last_keepalive"] = .integer(99)
        _ = try s.upsert([change, later], defaultNode: "w1")
        try s.markPushedNow(first)
        // The rest follows in id order, 2 again (changed after the snapshot) and 7 once.
        var ids = [Int]()
        for _ in 0..<10 {
            let next = try s.pendingAgentInfoNow(maxRowBytes: bound)
            #expect(next.removed.isEmpty)
            let got = try next.rows.map { Int(try JSON.parse($0)["id"]!.intValue!) }
            #expect(next.throughID == (next.isPartial ? got.last : nil))
            ids += got
            try s.markPushedNow(next)
            if !next.isPartial { break }
        }
        #expect(ids == [2, 5, 6, 7, 8, 9])
        #expect(try s.hasPendingAgentInfoNow() == false)
    }

    /// A push's rows, written straight from SQLite, are the records' wire bytes.
    @Test func pendingRowsAreTheRecordsWireBytes() throws {
        let t = try TemporaryStore()
        var rng = TestBytes(seed: 9)
        let texts = ["plain", "quote\" back\\slash", "tab\tnew\nline\u{1}", "é ü 中文 😀", "\u{7f}"]
        var records = [AgentRecord]()
        for id in 1...200 {
            var r = AgentRecordTests.record(id)
            for (i, f) in AgentRecord.fields.enumerated() where rng.below(2) == 0 {
                r.values[i] = f.kind == .text ? .text(texts[rng.below(texts.count)]) : .integer(Int64(rng.below(1 << 30)))
            }
            r["connection_status"] = .text("active")
            r["group_config_status"] = nil
            switch rng.below(3) {
            case 0: r.labels = nil
            case 1: r.labels = []
            default: r.labels = [AgentLabel(key: texts[rng.below(texts.count)], value: "v"), AgentLabel(key: "k", value: texts[rng.below(texts.count)])]
            }
            records.append(r)
        }
        #expect(try t.store.upsert(records, defaultNode: "w").isEmpty)
        let rows = try t.store.pendingAgentInfoNow().rows
        #expect(rows.count == 200)
        for (id, row) in zip(1...200, rows) {
            #expect(row == (try t.store.agent(id))?.wireBytes())
        }
    }

    /// The master keeps the newer record by last_keepalive, owns rows by the sending node, and
    /// removes only what the sender owns.
    @Test func masterApplyKeepsTheNewerRecord() throws {
        let t = try TemporaryStore()
        let s = t.store
        func push(_ records: [AgentRecord], removed: [Int] = []) throws -> AgentInfoChunks {
            try AgentInfoChunks(rows: records.map { $0.wireBytes() }, removed: removed)
        }
        var a = try s.applyNow(try push([AgentRecordTests.record(1, name: "new", keepalive: 2000),
                                                     AgentRecordTests.record(2, keepalive: 10)]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 2 && a.updatedChunks == 1 && a.errors.isEmpty)
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "old", keepalive: 1000)]), from: "worker-2", timeLimit: 40)
        #expect(a.applied == 0 && a.stale == 1)
        var one = try #require(try s.agent(1))
        #expect(one.name == "new" && one.nodeName == "worker-1")
        // Equal or newer keepalive wins, and the agent moves to the sender.
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "moved", keepalive: 2000)]), from: "worker-2", timeLimit: 40)
        one = try #require(try s.agent(1))
        #expect(one.name == "moved" && one.nodeName == "worker-2")
        // worker-1 no longer owns 1: its removal is skipped; its removal of 2 applies.
        a = try s.applyNow(try push([], removed: [1, 2, 77]), from: "worker-1", timeLimit: 40)
        #expect(a.removed == 1)
        #expect(try s.agent(1) != nil && s.agent(2) == nil)
        // A deleted agent is skipped, not an error, until it reports a newer keepalive.
        a = try s.applyNow(try push([AgentRecordTests.record(2, keepalive: 10)]), from: "worker-2", timeLimit: 40)
        #expect(a.deleted == 1 && a.applied == 0 && a.errors.isEmpty && a.updatedChunks == 1)
        #expect(try s.agent(2) == nil)
        a = try s.applyNow(try push([AgentRecordTests.record(2, keepalive: 11)]), from: "worker-2", timeLimit: 40)
        #expect(try a.applied == 1 && s.agent(2)?.nodeName == "worker-2")
        // A bad row is reported; the rest of its chunk still applies.
        let chunk = #"[{"id":5,"name":"ok"},{"id":6,"name":7},{"id":"x"}]"#
        a = try s.applyNow(AgentInfoChunks(chunks: [chunk, "not json"]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1 && a.errors.count == 3 && a.updatedChunks == 1)
        #expect(try s.agent(5)?.nodeName == "worker-1")
    }

    /// Hole 1 (issue 11): a worker cannot take another worker's agent with a keepalive from the
    /// future, nor remove an agent it does not own; an agent still moves with a genuinely newer
    /// keepalive, and then only its new owner removes it.
    @Test func futureKeepalivesCannotStealAgents() throws {
        let t = try TemporaryStore()
        let s = t.store
        func push(_ records: [AgentRecord], removed: [Int] = []) throws -> AgentInfoChunks {
            try AgentInfoChunks(rows: records.map { $0.wireBytes() }, removed: removed)
        }
        let now = Int64(Date().timeIntervalSince1970)
        var a = try s.applyNow(try push([AgentRecordTests.record(1, name: "real", keepalive: now - 10)]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1)
        // The year 2100: refused and reported; the agent stays with its owner.
        let thief = AgentRecordTests.record(1, name: "stolen", keepalive: 4_102_444_800)
        a = try s.applyNow(try push([thief]), from: "worker-evil", timeLimit: 40)
        #expect(a.applied == 0 && a.future == 1 && a.errors.count == 1, "\(a)")
        #expect(a.errors.first?.contains("ahead of the master's clock") == true, "\(a.errors)")
        var one = try #require(try s.agent(1))
        #expect(one.name == "real" && one.nodeName == "worker-1")
        // Removal from a node that does not own the agent: ignored.
        a = try s.applyNow(try push([], removed: [1]), from: "worker-evil", timeLimit: 40)
        #expect(a.removed == 0)
        #expect(try s.agent(1) != nil)
        // The owner's next update is not stale.
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "real-2", keepalive: now)]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1 && a.stale == 0)
        // Just past the skew (configurable): refused; within it, the agent moves.
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "ahead", keepalive: now + 120)]), from: "worker-2",
                           timeLimit: 40, keepaliveSkew: 60)
        #expect(a.future == 1 && a.applied == 0)
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "moved", keepalive: now + 5)]), from: "worker-2", timeLimit: 40)
        #expect(a.applied == 1 && a.errors.isEmpty)
        one = try #require(try s.agent(1))
        #expect(one.name == "moved" && one.nodeName == "worker-2")
        // The old owner's stale row and removal change nothing; the new owner's removal applies.
        a = try s.applyNow(try push([AgentRecordTests.record(1, name: "old", keepalive: now)], removed: []), from: "worker-1", timeLimit: 40)
        #expect(a.stale == 1)
        a = try s.applyNow(try push([], removed: [1]), from: "worker-1", timeLimit: 40)
        #expect(try a.removed == 0 && s.agent(1)?.nodeName == "worker-2")
        a = try s.applyNow(try push([], removed: [1]), from: "worker-2", timeLimit: 40)
        #expect(a.removed == 1)
        #expect(try s.agent(1) == nil)
    }

    /// Hole 4 (issue 11): a row that would leave an agent larger than one chunk (64,960 bytes of
    /// compact JSON) is refused and reported, on the master's apply and the local upsert, whether
    /// it is too large alone or only once merged with what is stored; the stored row is untouched.
    @Test func rowsPastTheSizeLimitAreRefused() throws {
        let t = try TemporaryStore()
        let s = t.store
        func row(_ id: Int, _ fields: [String: String]) -> AgentRecord {
            var r = AgentRecord(id: id)
            for (k, v) in fields { r[k] = .text(v) }
            return r
        }
        func chunk(_ records: [AgentRecord]) -> AgentInfoChunks {
            AgentInfoChunks(chunks: ["[" + records.map { String(decoding: $0.wireBytes(), as: UTF8.self) }.joined(separator: ",") + "]"])
        }
        // Exactly at the limit (as the master stores it, node_name included): applied; one byte more: refused.
        var exact = row(1, ["name": "a", "os_uname": ""])
        let base = exact.merged(over: nil, nodeName: "worker-1", forceNode: true).wireBytes().count
        exact["os_uname"] = .text(String(repeating: "u", count: AgentRecord.maxWireBytes - base))
        #expect(exact.merged(over: nil, nodeName: "worker-1", forceNode: true).wireBytes().count == AgentRecord.maxWireBytes)
        var a = try s.applyNow(chunk([exact]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1 && a.errors.isEmpty, "\(a)")
        var over = exact
        over.id = 2
        over["os_uname"] = .text(String(repeating: "u", count: AgentRecord.maxWireBytes - base + 1))
        a = try s.applyNow(chunk([over, row(3, ["name": "small"])]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1 && a.oversize == 1 && a.errors.count == 1, "\(a)")
        #expect(a.errors.first?.contains("64960") == true || a.errors.first?.contains("bytes of JSON") == true, "\(a.errors)")
        #expect(try s.agent(2) == nil && s.agent(3) != nil)
        // Each part fits; merged they do not: refused, the stored row unchanged.
        a = try s.applyNow(chunk([row(4, ["name": "m", "os_uname": String(repeating: "x", count: 40_000)])]), from: "worker-1", timeLimit: 40)
        #expect(a.applied == 1)
        a = try s.applyNow(chunk([row(4, ["os_build": String(repeating: "y", count: 30_000)])]), from: "worker-1", timeLimit: 40)
        #expect(a.oversize == 1 && a.applied == 0, "\(a)")
        #expect(try s.agent(4)?["os_build"] == nil)
        // Escaping counts: 12,000 control characters are 72,000 bytes of JSON.
        a = try s.applyNow(chunk([row(5, ["name": String(repeating: "\u{1}", count: 12_000)])]), from: "worker-1", timeLimit: 40)
        #expect(a.oversize == 1 && a.applied == 0, "\(a)")
        // The same on the worker's local upsert.
        var errors = try s.upsert([row(10, ["name": "w", "os_uname": String(repeating: "z", count: 70_000)])], defaultNode: "worker-1")
        #expect(errors[0]?.contains("bytes of JSON") == true, "\(errors)")
        #expect(try s.agent(10) == nil)
        errors = try s.upsert([row(11, ["name": "w", "os_uname": String(repeating: "z", count: 40_000)])], defaultNode: "worker-1")
        #expect(errors.isEmpty)
        errors = try s.upsert([row(11, ["os_build": String(repeating: "z", count: 30_000)]), row(12, ["name": "ok"])], defaultNode: "worker-1")
        #expect(errors.count == 1 && errors[0] != nil, "\(errors)")
        #expect(try s.agent(11)?["os_build"] == nil && s.agent(12) != nil)
        // A large row that fits (past the quick bound, measured exactly) is stored.
        errors = try s.upsert([row(11, ["os_build": String(repeating: "z", count: 20_000)])], defaultNode: "worker-1")
        #expect(errors.isEmpty, "\(errors)")
        #expect(try s.agent(11)?["os_build"] != nil)
    }

    @Test func groupDeltasFullSyncAndRemovals() throws {
        let master = try TemporaryStore()
        let worker = try TemporaryStore()
        let m = master.store, w = worker.store
        _ = try m.applyNow(try AgentInfoChunks(rows: (1...4).map { AgentRecordTests.record($0).wireBytes() }), from: "w1", timeLimit: 40)
        _ = try w.upsert([AgentRecordTests.record(1), AgentRecordTests.record(2)], defaultNode: "w1")
        #expect(try m.setGroups([AgentGroupsEntry(id: 1, groups: ["default"]), AgentGroupsEntry(id: 3, groups: ["g1"]),
                                 AgentGroupsEntry(id: 9, groups: ["g1"])]).keys.sorted() == [2])

        let delta = try m.takeDeltasNow()
        #expect(delta.entries == [AgentGroupsEntry(id: 1, groups: ["default"]), AgentGroupsEntry(id: 3, groups: ["g1"])])
        #expect(try m.takeDeltasNow().entries.isEmpty, "a delta is taken once")
        try w.applyGroupsNow(delta.entries, full: false)
        #expect(try w.globalGroupHashNow() == delta.hash)
        // Agent 3 is not the worker's own: it holds only its groups, and pushes nothing for it.
        #expect(try w.groups(of: 3) == ["g1"] && w.agent(3)?.name == nil)
        #expect(try w.pendingAgentInfoNow().rows.count == 2)

        // Removing an agent with groups on the master tells the workers through the next delta.
        _ = try m.applyNow(AgentInfoChunks(chunks: [], removed: [3]), from: "w1", timeLimit: 40)
        let afterRemoval = try m.takeDeltasNow()
        #expect(afterRemoval.entries == [AgentGroupsEntry(id: 3, groups: [])])
        try w.applyGroupsNow(afterRemoval.entries, full: false)
        #expect(try w.groups(of: 3) == nil)
        #expect(try w.globalGroupHashNow() == afterRemoval.hash)

        // Tampering makes the hashes differ; a full sync puts the master's groups back.
        try w.write { db in
            try db.execute(sql: "UPDATE agent SET groups = 'evil', group_hash = 'deadbeef' WHERE id = 1")
            try db.execute(sql: "INSERT INTO agent (id, groups, group_hash) VALUES (50, 'x', '12345678')")
        }
        #expect(try w.globalGroupHashNow() != afterRemoval.hash)
        try w.applyGroupsNow(try m.allGroupsNow(), full: true)
        #expect(try w.recalculateNow() == 0)
        #expect(try w.globalGroupHashNow() == (try m.globalGroupHashNow()))
        #expect(try w.groups(of: 1) == ["default"] && w.groups(of: 50) == nil)
    }

    /// Sort and select fields are trimmed as Foundation trims whitespace, with or without it.
    @Test func fieldNamesAreTrimmedAsFoundationDoes() throws {
        for text in ["name", " name", "name\t", "\u{3000}name\u{a0}", "na me", "\u{2003}", "", " ", "\n name \n", "\u{85}x", "é\u{301}"] {
            #expect(AgentQuery.trimmed(Substring(text)) == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
        }
        #expect(try AgentQuery.parseSort(" -name ,\tid") == [AgentQuery.SortKey(field: "name", ascending: false), AgentQuery.SortKey(field: "id", ascending: true)])
        #expect(try AgentQuery.parseSelect("name, ip,,\u{a0}os_name") == ["name", "ip", "os_name"])
    }

    @Test func reopeningKeepsDataAndSchema() throws {
        let t = try TemporaryStore()
        _ = try t.store.upsert([AgentRecordTests.record(1)], defaultNode: "w")
        let again = try AgentStore(path: t.store.path)
        #expect(try again.count() == 1)
        #expect(FileManager.default.fileExists(atPath: t.store.path + "-wal"), "WAL mode")
    }
}
