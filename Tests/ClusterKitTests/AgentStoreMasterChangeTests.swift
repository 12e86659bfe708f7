import Foundation
import Testing
@testable import ClusterKit

/// A worker that reaches a different master than the one it last pushed to pushes every agent
/// row again (failover: masters do not replicate their stores).
@Suite struct AgentStoreMasterChangeTests {
    @Test func aNewMasterGetsEveryRowAgainTheSameMasterDoesNot() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-master-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try AgentStore(path: dir.appendingPathComponent("agents.db").path)
        let rows = (1...5).map { i -> AgentRecord in
            var r = AgentRecord(id: i)
            r["name"] = .text("a\(i)")
            return r
        }
        _ = try store.upsert(rows, defaultNode: "worker-1")
        let first = try await store.pendingAgentInfo()
        #expect(first.rows.count == 5)
        try await store.markAgentInfoPushed(first)
        #expect(try await store.hasPendingAgentInfo() == false)

        #expect(try await store.noteMaster("master-a@3") == 0, "the first master recorded: nothing to push again")
        #expect(try await store.noteMaster("master-a@3") == 0, "the same master and term")
        #expect(try await store.hasPendingAgentInfo() == false)
        #expect(try await store.noteMaster("master-b@7") == 5, "another master: every row")
        let again = try await store.pendingAgentInfo()
        #expect(again.rows.count == 5)
        try await store.markAgentInfoPushed(again)
        #expect(try await store.noteMaster("master-a@9") == 5, "the old master in a new term counts as another")
        // Survives a reopen: the identity is in the store.
        let reopened = try AgentStore(path: dir.appendingPathComponent("agents.db").path)
        #expect(try await reopened.noteMaster("master-a@9") == 0)
    }
}
