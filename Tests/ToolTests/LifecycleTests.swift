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
