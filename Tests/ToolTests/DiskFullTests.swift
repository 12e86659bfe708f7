import ClusterKit
import Foundation
import Testing

/// Disk full (issue 11): a node's root on a small tmpfs, filled to the last page while it works.
/// What must hold: a clear error on the node's stderr (its log file sits on the full disk), the
/// old files and rows intact, and convergence once room is made. Each test unmounts what it
/// mounted, also when it fails.
@Suite(.serialized, .enabled(if: TmpfsMount.available, "needs root to mount a tmpfs"))
struct DiskFullTests {
    static func fatAgent(_ id: Int, round: Int, keepalive: Int) -> String {
        #"{"id":"\#(String(format: "%03d", id))","name":"agent-\#(id)-r\#(round)","connection_status":"active","last_keepalive":\#(keepalive + round),"os_uname":"\#(String(repeating: "u", count: 1500))"}"#
    }

    /// The master's disk fills while it applies a worker's agent-info push: the transaction
    /// fails and is rolled back, the worker is told and keeps its rows pending, and once room is
    /// made the next push lands.
    @Test func masterDiskFullDuringAgentInfo() async throws {
        let h = try ClusterHarness("full-agents")
        h.outputOutsideRoot = true
        let disk = try TmpfsMount(h.root("master-node"), megabytes: 16)
        defer { h.stopAll(); disk.unmount() }
        let port = try await blocking { try await h.startMaster(extra: AgentSyncTests.intervals) }
        try await blocking { try h.startWorker("worker-1", masterPort: port, extra: AgentSyncTests.intervals) }
        try await blocking { try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] } }
        let keepalive = Int(Date().timeIntervalSince1970) - 600
        func round(_ r: Int, count: Int) throws -> Bool {
            let items = try h.agentList("master-node", ["--select", "name", "--limit", "10000"])
            return items.count == count && items.allSatisfy { ($0["name"] as? String)?.hasSuffix("-r\(r)") == true }
        }
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: (1...100).map { Self.fatAgent($0, round: 0, keepalive: keepalive) }) }.status == 0)
        try await blocking { try await h.waitUntil("round 0 on the master") { try round(0, count: 100) } }

        try await blocking { try disk.fill() }
        #expect(disk.freeBytes < 64 << 10)
        // 4,000 rows of 1.5 KB: far more than the store's WAL can absorb in place.
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: (1...4000).map { Self.fatAgent($0, round: 1, keepalive: keepalive) }) }.status == 0)
        try await blocking { try await h.waitUntil("the master's error", timeout: 60) {
            h.stderr("master-node").contains("Error applying agent-info") && h.stderr("master-node").contains("full")
        } }
        let error = h.stderr("master-node").split(separator: "\n").first { $0.contains("Error applying agent-info") } ?? ""
        try await blocking { try await h.waitForLog("worker-1", containing: "Error synchronizing agent-info") }
        // The old rows are intact and the store is sound.
        #expect(try await blocking { try round(0, count: 100) }, "the master's rows changed on a full disk")
        #expect(try await blocking { try CrashRecoveryTests.integrityCheck(AgentStore.path(root: h.root("master-node").path)) } == "ok")
        #expect(h.pid("master-node").map { kill($0, 0) == 0 } == true, "the master exited")

        disk.unfill()
        try await blocking { try await h.waitUntil("round 1 on the master once room is made", timeout: 60) { try round(1, count: 4000) } }
        print("masterDiskFullDuringAgentInfo: \(error)")
    }

    /// The master's disk fills while it recalculates integrity and packs a container for a
    /// worker: the sync fails with a clear error, the worker's files stay as they were, and the
    /// next cycle after room is made converges.
    @Test func masterDiskFullDuringIntegrity() async throws {
        let h = try ClusterHarness("full-integrity")
        h.outputOutsideRoot = true
        let disk = try TmpfsMount(h.root("master-node"), megabytes: 16)
        defer { h.stopAll(); disk.unmount() }
        let master = h.root("master-node"), worker = h.root("worker-1")
        try ClusterSyncTests.write(master, ClusterSyncTests.seeded)
        // Room for a change made in place once the disk is full.
        let changed = master.appendingPathComponent("etc/rules/local_rules.xml")
        try Data(repeating: 0x41, count: 256 << 10).write(to: changed)
        let port = try await blocking { try await h.startMaster() }
        try await blocking { try h.startWorker("worker-1", masterPort: port) }
        try await blocking { try await h.waitUntil("worker-1 converged", timeout: 60) { ClusterSyncTests.tree(worker) == ClusterSyncTests.tree(master) } }
        let before = ClusterSyncTests.tree(worker)

        try await blocking { try disk.fill() }
        // Changed in place (no new page needed): the master must now pack it, and cannot.
        let handle = try FileHandle(forUpdating: changed)
        try handle.write(contentsOf: Data(SecureRandom.bytes(256 << 10)))
        try handle.close()
        // The master says that it could not store what the worker sent (before this, only the
        // worker's report of the master's answer said so, as if the worker's disk were full).
        try await blocking { try await h.waitUntil("the master's error", timeout: 60) {
            h.stderr("master-node").contains("Cannot receive a file from") && h.stderr("master-node").contains("No space left on device")
        } }
        let error = h.stderr("master-node").split(separator: "\n").first { $0.contains("Cannot receive a file from") } ?? ""
        // The recalculation itself still sees the change: only saving its cache fails.
        try await blocking { try await h.waitUntil("the recalculation on a full disk", timeout: 30) {
            h.stderr("master-node").contains("Cannot save the integrity cache (the snapshot is still used)")
        } }
        #expect(!h.stderr("master-node").contains("Error calculating local integrity"))
        // Cycles go on, and the worker's files stay the old ones.
        try await Task.sleep(for: .seconds(2))
        #expect(ClusterSyncTests.tree(worker) == before)
        #expect(h.pid("master-node").map { kill($0, 0) == 0 } == true, "the master exited")
        #expect(h.connectedWorkers() == ["worker-1"])

        disk.unfill()
        try await blocking { try await h.waitUntil("worker-1 converges once room is made", timeout: 60) {
            ClusterSyncTests.tree(worker) == ClusterSyncTests.tree(master) && ClusterSyncTests.tree(worker) != before
        } }
        print("masterDiskFullDuringIntegrity: \(error)")
    }

    /// The worker's disk fills while it applies: the container arrives (it compresses well) but
    /// the files do not fit. The apply fails with a clear error, the old files stay intact, no
    /// staging directory is left, and the next cycle after room is made converges.
    @Test func workerDiskFullDuringApply() async throws {
        let h = try ClusterHarness("full-apply")
        h.outputOutsideRoot = true
        let disk = try TmpfsMount(h.root("worker-1"), megabytes: 16)
        defer { h.stopAll(); disk.unmount() }
        let master = h.root("master-node"), worker = h.root("worker-1")
        try FileManager.default.createDirectory(at: master, withIntermediateDirectories: true)
        try ClusterSyncTests.write(master, ClusterSyncTests.seeded)
        let port = try await blocking { try await h.startMaster() }
        try await blocking { try h.startWorker("worker-1", masterPort: port) }
        try await blocking { try await h.waitUntil("worker-1 converged", timeout: 60) { ClusterSyncTests.tree(worker) == ClusterSyncTests.tree(master) } }
        let before = ClusterSyncTests.tree(worker)
        var contents = [String: Data]()
        for path in before.keys { contents[path] = try Data(contentsOf: worker.appendingPathComponent(path)) }

        // Room for the container (a few KiB), not for what it holds (8 MiB of zeros), and changes
        // to files the worker holds.
        try await blocking { try disk.fill(leaving: 1 << 20) }
        try Data(count: 8 << 20).write(to: master.appendingPathComponent("etc/lists/zeros.cdb"))
        try ClusterSyncTests.write(master, ["etc/rules/local_rules.xml": "<group name=\"changed,\"/>\n",
                                            "etc/shared/default/agent.conf": "<agent_config name=\"changed\"/>\n"])
        try await blocking { try await h.waitUntil("the worker's error", timeout: 60) {
            h.stderr("worker-1").contains("No space left on device")
        } }
        let error = h.stderr("worker-1").split(separator: "\n").first { $0.contains("No space left on device") } ?? ""
        try await Task.sleep(for: .seconds(1))
        // Old files intact, byte for byte; nothing new half-written; no staging left.
        for (path, data) in contents {
            #expect((try? Data(contentsOf: worker.appendingPathComponent(path))) == data, "\(path) changed on a full disk")
        }
        #expect(!FileManager.default.fileExists(atPath: worker.appendingPathComponent("etc/lists/zeros.cdb").path))
        #expect(CrashRecoveryTests.stagingLeft(worker).isEmpty, "staging left: \(CrashRecoveryTests.stagingLeft(worker))")
        #expect(h.pid("worker-1").map { kill($0, 0) == 0 } == true, "the worker exited")

        disk.unfill()
        try await blocking { try await h.waitUntil("worker-1 converges once room is made", timeout: 60) {
            ClusterSyncTests.tree(worker) == ClusterSyncTests.tree(master)
        } }
        print("workerDiskFullDuringApply: \(error)")
    }
}
