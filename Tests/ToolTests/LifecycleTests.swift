import Foundation
import Testing

/// Start-up and shutdown as an operator sees them: configuration errors name the key, JSON logs,
/// and SIGTERM leaves nothing behind.
@Suite(.serialized) struct LifecycleTests {
    @Test func sigtermStopsCleanlyAndJSONLogsParse() async throws {
        let h = try ClusterHarness("lifecycle")
        defer { h.stopAll() }
        try h.writeConfig("master-node", type: "master")
        let p = try h.start("master-node", tool: "cl-master", extraArgs: ["--log-format", "json"])
        let runFile = h.root("master-node").appendingPathComponent("var/run/cl-master.json").path
        try await h.waitUntil("listening") { FileManager.default.fileExists(atPath: runFile) }
        let socket = h.root("master-node").appendingPathComponent("queue/cluster/c-internal.sock").path
        #expect(FileManager.default.fileExists(atPath: socket))
        let mode = (try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o660)
        kill(p.processIdentifier, SIGTERM)
        try await h.waitUntil("exit") { !p.isRunning }
        #expect(p.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
        #expect(!FileManager.default.fileExists(atPath: runFile))
        let lines = h.log("master-node").split(separator: "\n")
        #expect(lines.count >= 3)
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj?["message"] is String && obj?["level"] is String && obj?["time"] is String, "\(line)")
        }
        // The key never appears in the log.
        #expect(!h.log("master-node").contains(h.key))
    }

    /// Hole 2 (issue 11): the worker daemon removes at start the staging directories that
    /// applies which died left in its root (unlocked, or transient and old), and leaves alone
    /// one that a running apply holds locked and a transient one just made.
    @Test func workerStartRemovesAbandonedStagingDirectories() async throws {
        let h = try ClusterHarness("staging-sweep")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        let root = h.root("worker-1")
        func make(_ name: String, age: TimeInterval = 0) throws -> String {
            let dir = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("0"), withIntermediateDirectories: true)
            try Data(repeating: 0x41, count: 4096).write(to: dir.appendingPathComponent("0/agent.conf"))
            if age > 0 {
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: dir.path)
            }
            return dir.path
        }
        let dead = try make(".cl-integrity-staging-dead01")
        let live = try make(".cl-integrity-staging-live01")
        let oldNew = try make(".cl-integrity-new-old001", age: 7200)
        let freshNew = try make(".cl-integrity-new-fresh1")
        // A running apply holds its staging directory locked.
        let lock = open(live, O_RDONLY | O_DIRECTORY)
        #expect(lock >= 0 && flock(lock, LOCK_EX) == 0)
        defer { close(lock) }
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitForLog("worker-1", containing: "Removed 2 staging directories left by interrupted applies")
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: dead) && !fm.fileExists(atPath: oldNew))
        #expect(fm.fileExists(atPath: live) && fm.fileExists(atPath: freshNew))
        #expect(fm.fileExists(atPath: live + "/0/agent.conf"))
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }
        #expect(fm.fileExists(atPath: live))
    }

    @Test func badConfigurationExits78NamingTheKey() async throws {
        let dir = try ToolRunner.temporaryDirectory("badcfg")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"cluster": {"name": "wazuh", "key": "Wazuh_Golden_Key_0123456789abcde"}, "node": {"name": "m", "type": "master", "root": ".", "bnid": "1.2.3.4"}}"#.utf8)
            .write(to: dir.appendingPathComponent("cluster.json"))
        let r = try ToolRunner.shell("cl-master run -c cluster.json", in: dir)
        #expect(r.status == 78)
        #expect((errorLine(r.stderr)?["message"] as? String)?.contains("node.bnid") == true)
        let worker = try ToolRunner.shell("cl-worker run -c cluster.json", in: dir)
        #expect(worker.status == 78)
        let missing = try ToolRunner.shell("cl-master run -c nope.json", in: dir)
        #expect(missing.status == 66)
        let notRunning = try ToolRunner.shell("cl-master health --socket ./nope.sock")
        #expect(notRunning.status == 69)
        #expect(errorLine(notRunning.stderr)?["code"] as? Int == 3012)
    }
}
