import ClusterKit
import Foundation
import Testing

/// Integrity sync between real processes: the master's files reach every worker, with the rule's
/// permissions, through creations, changes and deletions; faults leave no torn files.
@Suite(.serialized) struct ClusterSyncTests {
    static let seeded = [
        "etc/client.keys": "001 agent-one any 8b3f0a\n",
        "etc/shared/default/agent.conf": "<agent_config/>\n",
        "etc/shared/group1/sub/nested.conf": "nested\n",
        "etc/rules/local_rules.xml": "<group name=\"local,\"/>\n",
        "etc/decoders/local_decoder.xml": "<decoder name=\"x\"/>\n",
        "etc/lists/audit-keys": "audit-wazuh-w:write\n",
        "etc/lists/naïve list.cdb": "binary\u{0}data\n",
    ]

    static func write(_ root: URL, _ files: [String: String]) throws {
        for (path, content) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
    }

    /// The relative paths under `etc/` with their content digests.
    static func tree(_ root: URL) -> [String: String] {
        var out = [String: String]()
        let etc = root.appendingPathComponent("etc")
        guard let e = FileManager.default.enumerator(atPath: etc.path) else { return out }
        for case let rel as String in e {
            let url = etc.appendingPathComponent(rel)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue,
               let data = try? Data(contentsOf: url) {
                out["etc/" + rel] = Digest.sha256Hex(data)
            }
        }
        return out
    }

    static func mode(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test func filesReachBothWorkersThroughChangesAndDeletions() async throws {
        let h = try ClusterHarness("sync")
        defer { h.stopAll() }
        try FileManager.default.createDirectory(at: h.root("master-node"), withIntermediateDirectories: true)
        try Self.write(h.root("master-node"), Self.seeded)
        // A file no rule selects stays on the master only; an excluded name too.
        try Self.write(h.root("master-node"), ["etc/ossec.conf": "<ossec_config/>", "etc/shared/ar.conf": "ar"])
        let port = try await h.startMaster()
        try h.startWorker("worker-1", masterPort: port)
        try h.startWorker("worker-2", masterPort: port)
        let master = h.root("master-node")
        func converged() -> Bool {
            let want = Self.tree(master).filter { $0.key != "etc/ossec.conf" && $0.key != "etc/shared/ar.conf" }
            return ["worker-1", "worker-2"].allSatisfy { Self.tree(h.root($0)) == want }
        }
        try await h.waitUntil("both workers hold the seeded files", timeout: 60, converged)
        for w in ["worker-1", "worker-2"] {
            #expect(Self.mode(h.root(w).appendingPathComponent("etc/client.keys")) == 0o640)
            #expect(Self.mode(h.root(w).appendingPathComponent("etc/shared/default/agent.conf")) == 0o660)
            #expect(Self.mode(h.root(w).appendingPathComponent("etc/rules/local_rules.xml")) == 0o660)
            #expect(!FileManager.default.fileExists(atPath: h.root(w).appendingPathComponent("etc/ossec.conf").path))
        }
        // Change, create and delete under every rule.
        try Self.write(master, ["etc/rules/local_rules.xml": "<group name=\"changed,\"/>\n",
                                "etc/decoders/new_decoder.xml": "<decoder name=\"new\"/>\n",
                                "etc/shared/group2/agent.conf": "<agent_config name=\"g2\"/>\n"])
        try FileManager.default.removeItem(at: master.appendingPathComponent("etc/lists/audit-keys"))
        try FileManager.default.removeItem(at: master.appendingPathComponent("etc/shared/group1/sub/nested.conf"))
        try await h.waitUntil("both workers follow the changes", timeout: 60, converged)
        // remove_subdirs_if_empty on etc/shared/: the emptied subdirectory went too.
        for w in ["worker-1", "worker-2"] {
            #expect(!FileManager.default.fileExists(atPath: h.root(w).appendingPathComponent("etc/shared/group1/sub").path))
        }
        // Health shows both workers with their integrity dates.
        try await h.waitUntil("health shows both syncs") {
            guard let health = try h.query("cl-master", ["health"], node: "master-node") as? [String: Any],
                  let nodes = health["nodes"] as? [String: Any] else { return false }
            return ["worker-1", "worker-2"].allSatisfy { w in
                guard let status = (nodes[w] as? [String: Any])?["status"] as? [String: Any],
                      let check = status["last_check_integrity"] as? [String: Any],
                      let sync = status["last_sync_integrity"] as? [String: Any] else { return false }
                return check["date_end_master"] as? String != "n/a" && sync["date_end_master"] as? String != "n/a"
            } && health["n_connected_nodes"] as? Int == 2
        }
        // The worker answers health through its master, and the tables print.
        let table = try ToolRunner.shell("cl-worker health --table -c '\(h.configPath("worker-1"))'")
        #expect(table.status == 0 && table.stdoutText.contains("worker-2 (127.0.0.1): Integrity check: 20"))
    }

    /// kill -9 a worker while it receives a large container, restart it: nothing torn, and it
    /// converges.
    /// A cold worker checks as soon as it is connected, not one `sync_integrity` interval later
    /// (an hour here).
    @Test func aColdWorkerChecksAtOnce() async throws {
        let h = try ClusterHarness("cold")
        defer { h.stopAll() }
        try FileManager.default.createDirectory(at: h.root("master-node"), withIntermediateDirectories: true)
        try Self.write(h.root("master-node"), Self.seeded)
        let port = try await h.startMaster()
        try h.startWorker("worker-1", masterPort: port, extra: ["intervals": ["worker": ["sync_integrity": 3600]]])
        let master = h.root("master-node"), worker = h.root("worker-1")
        try await h.waitUntil("worker-1 holds the master's files", timeout: 30) {
            !Self.tree(worker).isEmpty && Self.tree(worker) == Self.tree(master)
        }
    }

    @Test func killedWorkerLeavesNoTornFileAndConverges() async throws {
        let h = try ClusterHarness("kill")
        defer { h.stopAll() }
        let master = h.root("master-node")
        try FileManager.default.createDirectory(at: master, withIntermediateDirectories: true)
        try Self.write(master, Self.seeded)
        // A large incompressible list makes the transfer long enough to be interrupted.
        let big = master.appendingPathComponent("etc/lists/big.cdb")
        try Data(SecureRandom.bytes(120 << 20)).write(to: big)
        let port = try await h.startMaster(extra: ["intervals": ["communication": ["timeout_receiving_file": 60]]])
        try h.startWorker("worker-1", masterPort: port)
        let inbox = h.root("worker-1").appendingPathComponent("queue/cluster/worker-1")
        try await h.waitUntil("the worker is receiving the container", timeout: 60) {
            let items = (try? FileManager.default.contentsOfDirectory(atPath: inbox.path)) ?? []
            return items.contains { name in
                let size = (try? FileManager.default.attributesOfItem(atPath: inbox.appendingPathComponent(name).path)[.size] as? Int) ?? 0
                return name.hasSuffix(".zip") && size > 0
            }
        }
        h.stop("worker-1", signal: SIGKILL)
        // Nothing under etc/ is partial: every file there is absent or complete.
        let masterTree = Self.tree(master)
        for (path, digest) in Self.tree(h.root("worker-1")) {
            #expect(masterTree[path] == digest, "\(path) is torn or unexpected after kill -9")
        }
        try h.start("worker-1", tool: "cl-worker")
        try await h.waitUntil("the restarted worker converges", timeout: 120) { Self.tree(h.root("worker-1")) == masterTree }
        // No staging directory or container left behind once it is idle again.
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: h.root("worker-1").path))?.filter { $0.hasPrefix(".cl-integrity-staging") } ?? []
        #expect(leftovers.isEmpty)
    }

    /// Stop and restart the master: the worker reconnects, with growing, jittered delays.
    @Test func workersReconnectWithGrowingJitteredDelays() async throws {
        let h = try ClusterHarness("reconnect")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }
        h.stop("master-node")
        try await h.waitForLog("worker-1", containing: "(attempt 4,", timeout: 30)
        // Restart on the same port.
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.configPath("master-node")))) as! [String: Any]
        var node = cfg["node"] as! [String: Any]
        node["port"] = port
        cfg["node"] = node
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: h.configPath("master-node")))
        try h.start("master-node", tool: "cl-master")
        try await h.waitUntil("worker-1 reconnected", timeout: 30) { h.connectedWorkers() == ["worker-1"] }
        // The log shows each wait drawn from a window that doubles up to the cap.
        let lines = h.log("worker-1").split(separator: "\n").filter { $0.contains("Reconnecting to the master in") }
        let windows = lines.compactMap { line -> Double? in
            guard let r = line.range(of: "random wait up to ") else { return nil }
            return Double(line[r.upperBound...].prefix { $0 == "." || $0.isNumber })
        }
        let waits = lines.compactMap { line -> Double? in
            guard let r = line.range(of: "master in ") else { return nil }
            return Double(line[r.upperBound...].prefix { $0 == "." || $0.isNumber })
        }
        #expect(windows.count >= 4)
        #expect(Array(windows.prefix(4)) == [0.2, 0.4, 0.8, 1.6])
        #expect(zip(waits, windows).allSatisfy { $0 <= $1 + 0.005 })
        #expect(Set(waits).count > 1, "waits are jittered")
    }
}
