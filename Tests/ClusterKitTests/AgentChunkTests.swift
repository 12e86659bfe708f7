import Foundation
import Testing
@testable import ClusterKit

@Suite struct AgentChunkTests {
    /// Chunks stay under 65,024 bytes, keep every row once and in order.
    @Test func chunksStayUnderTheLimit() throws {
        var rng = TestBytes(seed: 7)
        let rows: [[UInt8]] = (1...3000).map { id in
            var r = AgentRecordTests.record(id)
            r["os_uname"] = .text(String(repeating: "u", count: rng.below(900)))
            return r.wireBytes()
        }
        let push = try AgentInfoChunks(rows: rows)
        #expect(push.chunks.count > 10)
        var ids = [Int64]()
        for c in push.chunks {
            #expect(c.utf8.count < AgentInfoChunks.maxChunkBytes)
            for row in try JSON.parse(c).arrayValue! { ids.append(row["id"]!.intValue!) }
        }
        #expect(ids == (1...3000).map(Int64.init))
        // Filled: each chunk but the last could not take the next row.
        for (i, c) in push.chunks.dropLast().enumerated() {
            let nextRow = try JSON.parse(push.chunks[i + 1]).arrayValue![0]
            #expect(c.utf8.count + 1 + JSONWriter.compact.bytes(nextRow).count >= AgentInfoChunks.maxChunkBytes)
        }
        #expect(try AgentInfoChunks(rows: []).chunks.isEmpty)
        #expect(throws: ClusterError.self) { try JSONChunkPacker().pack([[UInt8](repeating: 0x31, count: 65_022)]) }
    }

    /// The envelope is what Python's json.dumps writes for the reference's dict.
    @Test func envelopesAreTheReferences() throws {
        let push = AgentInfoChunks(chunks: [#"[{"id":1,"name":"é"}]"#])
        #expect(String(decoding: push.envelope(), as: UTF8.self)
                == #"{"set_data_command": "global sync-agent-info-set", "payload": {}, "chunks": ["[{\"id\":1,\"name\":\"\u00e9\"}]"]}"#)
        #expect(try AgentInfoChunks(envelope: push.envelope()) == push)
        let withRemovals = AgentInfoChunks(chunks: [], removed: [3, 4])
        #expect(String(decoding: withRemovals.envelope(), as: UTF8.self)
                == #"{"set_data_command": "global sync-agent-info-set", "payload": {}, "chunks": [], "removed_agents": [3, 4]}"#)
        #expect(try AgentInfoChunks(envelope: withRemovals.envelope()) == withRemovals)
        #expect(throws: ClusterError.self) { try AgentInfoChunks(envelope: Array("{\"chunks\": []}".utf8)) }

        let groups = try AgentGroupsPayload(entries: [AgentGroupsEntry(id: 1, groups: ["default"])], hash: .some("abc"))
        #expect(groups.chunks == [#"[{"data":[{"id":1,"groups":["default"]}],"hash":"abc"}]"#])
        #expect(String(decoding: groups.envelope(), as: UTF8.self)
                == #"{"set_data_command": "global set-agent-groups", "payload": {"mode": "override", "sync_status": "synced"}, "chunks": ["[{\"data\":[{\"id\":1,\"groups\":[\"default\"]}],\"hash\":\"abc\"}]"]}"#)
        #expect(try AgentGroupsPayload(envelope: groups.envelope()) == groups)
        #expect(try groups.masterHash() == .some("abc"))
        // Nothing changed: one chunk that carries only the hash, null when no agent has groups.
        #expect(try AgentGroupsPayload(entries: [], hash: .some(nil)).chunks == [#"[{"data":[],"hash":null}]"#])
        #expect(try AgentGroupsPayload(entries: [], hash: .some(nil)).masterHash() == .some(nil))
        // Full sync: no hash key, so no check.
        let full = try AgentGroupsPayload(entries: [AgentGroupsEntry(id: 2, groups: [])], hash: nil)
        #expect(full.chunks == [#"[{"data":[{"id":2,"groups":[]}]}]"#])
        #expect(try full.masterHash() == nil)
    }

    @Test func largeGroupPayloadsSplitAndKeepTheHashLast() throws {
        let entries = (1...5000).map { AgentGroupsEntry(id: $0, groups: ["default", "group-\($0 % 50)", "web"]) }
        let p = try AgentGroupsPayload(entries: entries, hash: .some(String(repeating: "a", count: 40)))
        #expect(p.chunks.count > 1)
        for c in p.chunks { #expect(c.utf8.count < AgentInfoChunks.maxChunkBytes) }
        let (back, errors) = try p.entries()
        #expect(back == entries && errors.isEmpty)
        #expect(try p.masterHash() == .some(String(repeating: "a", count: 40)))
        let bad = AgentGroupsPayload(chunks: [#"[{"data":[{"id":1,"groups":["ok"]},{"id":2,"groups":["bad name"]}]}]"#])
        let (some, errs) = try bad.entries()
        #expect(some.count == 1 && errs.count == 1)
    }

    /// The master's direct reader accepts and refuses exactly what the JSON path does.
    @Test func chunkReaderAgreesWithTheJSONPath() throws {
        let rows = [#"{"id":1,"name":"a","last_keepalive":5,"labels":[{"id":1,"key":"k","value":"v"}],"extra":[1]}"#,
                    #"{"id":"002","name":"é\u00e9","connection_status":"active","os_uname":null,"labels":null}"#,
                    #"{"id":3,"name":7}"#, #"{"id":0,"name":"zero"}"#, #"{"name":"no id"}"#, #"[1]"#, #"{"id":4,"status_code":-1}"#,
                    #"{"id":5,"last_keepalive":-1}"#, #"{"id":6,"connection_status":"asleep"}"#, #"{"id":7,"last_keepalive":1.5}"#,
                    #"{"id":8,"labels":{"a":"b"}}"#, #"{"id":9,"labels":"x"}"#, #"{"id":true}"#, #"{"id":10,"name":""}"#,
                    #"{"ip":"1.2.3.4","name":"late id","id":11}"#, #"{"id":12,"na\u006de":"escaped key","\u0069p":"x"}"#,
                    #"{"id":13,"ip":"a","future":"x","labels":[],"name":"n"}"#]
        let chunk = "[" + rows.joined(separator: ",") + "]"
        let direct = try AgentChunkReader.rows(chunk)
        let viaJSON = try JSON.parse(chunk).arrayValue!.map { row in Result { try AgentRecord(json: row, strict: false) }.mapError { $0 as! ClusterError } }
        #expect(direct.count == rows.count)
        for (a, b) in zip(direct, viaJSON) {
            switch (a, b) {
            case (.success(let x), .success(let y)): #expect(x == y)
            case (.failure(let x), .failure(let y)): #expect(x.message == y.message)
            default: Issue.record("the readers disagree: \(a) vs \(b)")
            }
        }
        // Strictly, for the CLI's lines: the same records and the same refusals.
        for row in rows + [#"{"id":1,"group":["x"]}"#, #"{"id":1,"name":"\#(String(repeating: "x", count: 70_000))"}"#] {
            let direct = Result { try Array(row.utf8).withUnsafeBytes { try AgentChunkReader.record($0, strict: true) } }
            let viaJSON = Result { try AgentRecord(json: try JSON.parse(row), strict: true) }
            switch (direct, viaJSON) {
            case (.success(let x), .success(let y)): #expect(x == y)
            case (.failure(let x as ClusterError), .failure(let y as ClusterError)): #expect(x.message == y.message, "\(row.prefix(60))")
            default: Issue.record("the strict readers disagree on \(row.prefix(60))")
            }
        }
        // A key twice, even spelled with an escape, refuses the whole chunk.
        for dup in [#"[{"id":1,"name":"a","na\u006de":"b"}]"#, #"[{"id":1,"id":2}]"#, #"[{"id":1,"x":1,"x":2}]"#] {
            #expect(throws: ClusterError.self, "\(dup)") { try AgentChunkReader.rows(dup) }
        }
        #expect(throws: ClusterError.self) { try AgentChunkReader.rows("{}") }
        #expect(throws: ClusterError.self) { try AgentChunkReader.rows("[") }
    }

    /// The span writers print what JSONWriter prints.
    @Test func escapingMatchesTheWriters() {
        var rng = TestBytes(seed: 21)
        let pool = ["a", "bc", "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{1}", "\u{1f}", "\u{7f}", "é", "中", "😀", "/", " "]
        for _ in 0..<2000 {
            let s = (0..<rng.below(12)).map { _ in pool[rng.below(pool.count)] }.joined()
            var compact = [UInt8](), python = [UInt8]()
            JSONEscaping.appendCompact(s, into: &compact)
            JSONEscaping.appendPython(s, into: &python)
            #expect(compact == JSONWriter.compact.bytes(.string(s)), "\(s)")
            #expect(python == JSONWriter.python.bytes(.string(s)), "\(s)")
        }
        let chunks = ["[{\"id\":1,\"name\":\"é😀\"}]", "[]", ""]
        var list = [UInt8]()
        JSONEscaping.appendPythonList(chunks, into: &list)
        #expect(list == JSONWriter.python.bytes(.array(chunks.map { .string($0) })))
    }

    @Test func syncResultShape() throws {
        let r = SyncResult(updatedChunks: 2, errorMessages: ["x"], timeSpent: 0.25)
        #expect(String(decoding: r.bytes(), as: UTF8.self) == #"{"updated_chunks": 2, "error_messages": ["x"], "time_spent": 0.25}"#)
        #expect(try SyncResult(bytes: r.bytes()) == r)
    }
}
