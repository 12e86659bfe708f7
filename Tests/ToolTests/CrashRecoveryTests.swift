import ClusterKit
import Foundation
import Testing

/// kill -9 loops (issue 11): a worker killed while it applies a container, and the master killed
/// while it applies a worker's agent-info push, round after round. Each round checks what must
/// hold after the kill (no torn file; the SQLite store passes `PRAGMA integrity_check`), then
/// restarts the node and checks that it converges and that no staging directory is left.
///
/// CI runs `CrashRecoveryTests.defaultRounds` rounds of each; `CLUSTERTOOLS_FAULT_ROUNDS=20`
/// runs the issue's twenty (bench/faults.sh).
@Suite(.serialized) struct CrashRecoveryTests {
    static let defaultRounds = 5
    static var rounds: Int { Int(ProcessInfo.processInfo.environment["CLUSTERTOOLS_FAULT_ROUNDS"] ?? "") ?? defaultRounds }

    // MARK: worker killed during apply

    static let groups = 8, filesPerGroup = 150

    static func path(_ g: Int, _ i: Int) -> String { "etc/shared/g\(g)/file\(i).conf" }

    /// The content of file (g, i) in `round`: distinct per round and per file, a few KiB.
    static func content(_ g: Int, _ i: Int, round: Int) -> Data {
        let head = "round \(round) group \(g) file \(i)\n"
        return Data((head + String(repeating: "\(round % 10)", count: 2000 + (i * 37) % 1500) + "\n").utf8)
    }

    /// Writes every file of `round` on the master, each atomically (as an editor or a package
    /// would), so that the master itself never reads a half-written file.
    static func writeRound(_ root: URL, _ round: Int) throws {
        for g in 0..<groups {
            let dir = root.appendingPathComponent("etc/shared/g\(g)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in 0..<filesPerGroup {
                try content(g, i, round: round).write(to: root.appendingPathComponent(path(g, i)), options: .atomic)
            }
        }
    }

    static func stagingLeft(_ root: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix(".cl-integrity-staging") }
    }

    @Test func workerKilledDuringApplyLeavesNoTornFileAndConverges() async throws {
        let rounds = Self.rounds
        let h = try ClusterHarness("kill-apply")
        defer { h.stopAll() }
        let master = h.root("master-node"), worker = h.root("worker-1")
        try FileManager.default.createDirectory(at: master, withIntermediateDirectories: true)
        try Self.writeRound(master, 0)
        let port = try await blocking { try await h.startMaster() }
        try await blocking { try h.startWorker("worker-1", masterPort: port) }
        let expectedFiles = Self.groups * Self.filesPerGroup
        func converged(_ round: Int) -> Bool {
            let t = ClusterSyncTests.tree(worker)
            return t.count == expectedFiles && t == ClusterSyncTests.tree(master)
                && (try? Data(contentsOf: worker.appendingPathComponent(Self.path(0, 0)))) == Self.content(0, 0, round: round)
        }
        try await blocking { try await h.waitUntil("worker-1 holds round 0", timeout: 120) { converged(0) } }

        var mixed = 0
        for round in 1...rounds {
            try await blocking { try Self.writeRound(master, round) }
            // Kill as soon as the apply has begun (its staging directory exists), after a random
            // few milliseconds so that the kills land at different steps of it.
            let pid = try #require(h.pid("worker-1"))
            let sawStaging = try await blocking { () -> Bool in
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    if !Self.stagingLeft(worker).isEmpty {
                        usleep(UInt32.random(in: 0...40_000))
                        kill(pid, SIGKILL)
                        return true
                    }
                    usleep(1000)
                }
                return false
            }
            #expect(sawStaging, "round \(round): no apply began within 60 s")
            await blocking { h.stop("worker-1", signal: SIGKILL) }
            // Every file is the old content or the new one, byte for byte.
            var old = 0, new = 0
            for g in 0..<Self.groups {
                for i in 0..<Self.filesPerGroup {
                    let data = try Data(contentsOf: worker.appendingPathComponent(Self.path(g, i)))
                    if data == Self.content(g, i, round: round) { new += 1 }
                    else if data == Self.content(g, i, round: round - 1) { old += 1 }
                    else { Issue.record("round \(round): \(Self.path(g, i)) is torn (\(data.count) bytes)") }
                }
            }
            if old > 0 && new > 0 { mixed += 1 }
            try await blocking { try h.start("worker-1", tool: "cl-worker") }
            try await blocking { try await h.waitUntil("worker-1 converges after kill \(round)", timeout: 120) { converged(round) } }
            #expect(Self.stagingLeft(worker).isEmpty, "round \(round): staging left after the restart: \(Self.stagingLeft(worker))")
        }
        print("workerKilledDuringApply: \(rounds) kills, \(mixed) landed mid-rename (old and new files side by side), 0 torn")
    }

    // MARK: master killed during an agent-info apply

    static func agentLines(_ count: Int, round: Int, keepalive: Int) -> [String] {
        (1...count).map { AgentSyncTests.agentLine($0, name: "agent-\($0)-r\(round)", keepalive: keepalive + round) }
    }

    static func integrityCheck(_ db: String) throws -> String {
        let r = try ToolRunner.shell("""
            python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1], timeout=30).execute("PRAGMA integrity_check").fetchone()[0])' '\(db)'
            """)
        return r.status == 0 ? r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) : "python3 failed: \(r.stderr)"
    }

    @Test func masterKilledDuringAgentInfoApplyKeepsItsStoreAndConverges() async throws {
        let rounds = Self.rounds
        let h = try ClusterHarness("kill-agents")
        defer { h.stopAll() }
        let count = 4000
        let port = try await blocking { try await h.startMaster(extra: AgentSyncTests.intervals) }
        try await blocking { try h.startWorker("worker-1", masterPort: port, extra: AgentSyncTests.intervals) }
        try await blocking { try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] } }
        let keepalive = Int(Date().timeIntervalSince1970) - 600
        func allOfRound(_ round: Int) throws -> Bool {
            let items = try h.agentList("master-node", ["--select", "name,node_name", "--limit", "\(count + 10)"])
            return items.count == count && items.allSatisfy {
                ($0["name"] as? String)?.hasSuffix("-r\(round)") == true && $0["node_name"] as? String == "worker-1"
            }
        }
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agentLines(count, round: 0, keepalive: keepalive)) }.status == 0)
        try await blocking { try await h.waitUntil("round 0 on the master", timeout: 60) { try allOfRound(0) } }
        let db = AgentStore.path(root: h.root("master-node").path)
        let starting = "[Agent-info sync] Starting."
        var killedMidApply = 0
        for round in 1...rounds {
            let before = h.log("master-node").components(separatedBy: starting).count
            let pid = try #require(h.pid("master-node"))
            let upsert = try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agentLines(count, round: round, keepalive: keepalive)) }
            #expect(upsert.status == 0, "\(upsert.stderr)")
            // Kill as soon as the master logs that it applies the push, a random few ms later.
            let finishedBefore = h.log("master-node").components(separatedBy: "[Agent-info sync] Finished").count
            let sawStart = try await blocking { () -> Bool in
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    if h.log("master-node").components(separatedBy: starting).count > before {
                        usleep(UInt32.random(in: 0...20_000))
                        kill(pid, SIGKILL)
                        return true
                    }
                    usleep(1000)
                }
                return false
            }
            #expect(sawStart, "round \(round): the master never began applying")
            await blocking { h.stop("master-node", signal: SIGKILL) }
            if h.log("master-node").components(separatedBy: "[Agent-info sync] Finished").count == finishedBefore { killedMidApply += 1 }
            #expect(try await blocking { try Self.integrityCheck(db) } == "ok", "round \(round)")
            try await blocking { try await h.restartMaster(port: port, extra: AgentSyncTests.intervals) }
            try await blocking { try await h.waitUntil("round \(round) on the master after the restart", timeout: 90) { try allOfRound(round) } }
        }
        await blocking { h.stop("master-node") }
        #expect(try await blocking { try Self.integrityCheck(db) } == "ok")
        print("masterKilledDuringAgentInfoApply: \(rounds) kills, \(killedMidApply) before the apply finished; store ok, \(count) agents converged each round")
    }
}
