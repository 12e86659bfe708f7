import Foundation
import Testing
@testable import ClusterKit

/// A node as the operations see it, without any runtime.
struct FakeNode: DapiNodeContext {
    var config: ClusterConfig
    var logFile: String
    var nodes: [NodeInfo] = []

    init(root: URL, type: String = "worker", name: String = "worker-1") throws {
        var node: JSON = ["name": .string(name), "type": .string(type), "root": .string(root.path)]
        if type == "worker" { node["master"] = "10.0.0.1:1516" }
        config = try ClusterConfig(json: ["cluster": ["name": "wazuh", "key": "0123456789abcdef0123456789abcdef"], "node": node],
                                   baseDirectory: root.path)
        logFile = root.appendingPathComponent("logs/cluster.log").path
    }

    func clusterNodes() throws -> [NodeInfo] { nodes }
    func clusterHealth(filter: JSON?) throws -> JSON {
        HealthReport.build(master: .init(info: nodes[0], activeAgents: 1, status: nil),
                           workers: nodes.dropFirst().map { .init(info: $0, activeAgents: 2, status: WorkerSyncStatus()) }, filter: filter)
    }
    func statistics() -> JSON { ["node": .string(config.nodeName)] }
    func agentSource() throws -> DapiAgentSource { throw DapiError.unavailable("agent store not available") }
}

@Suite struct DapiOperationTests {
    static func temp() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dapi-op-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
        return dir
    }

    static func run(_ op: String, _ args: JSONObject = [:], on node: DapiNodeContext) throws -> DapiResult {
        try OperationRegistry.standard.prepare(DapiRequest(operation: op, arguments: args, requestType: .localAny)).run(on: node)
    }

    @Test func logLinesInBothLayouts() throws {
        let text = ClusterLogTail.parse("2026/11/27 05:10:33 INFO: [Worker worker-1] [Integrity check] Finished in 0.001 s.", position: 10)
        #expect(text == ClusterLogTail.Line(timestamp: "2026-11-27T05:10:33", level: "info", tag: "Worker worker-1",
                                            subtag: "Integrity check", description: "Finished in 0.001 s.", position: 10))
        let noSub = ClusterLogTail.parse("2026/11/27 05:10:33 WARNING: [Master] Listening", position: 0)
        #expect(noSub?.tag == "Master" && noSub?.subtag == nil && noSub?.description == "Listening" && noSub?.level == "warning")
        #expect(ClusterLogTail.parse("2026/11/27 05:10:33 DEBUG2: plain", position: 0)?.level == "debug")
        #expect(ClusterLogTail.parse("Traceback (most recent call last):", position: 0) == nil)
        #expect(ClusterLogTail.parse("2026/11/27 05:10:33 LOUD: [x] y", position: 0) == nil)
        let json = ClusterLogTail.parse(#"{"time":"2026-11-27T05:10:33.000001Z","level":"error","tag":"Master","message":"boom"}"#, position: 3)
        #expect(json?.level == "error" && json?.tag == "Master" && json?.description == "boom" && json?.timestamp == "2026-11-27T05:10:33.000001Z")
    }

    /// A tail that starts mid-line skips the torn line; positions are byte offsets in the file.
    @Test func tailReadsTheEndOfTheFile() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("logs/cluster.log").path
        var content = ""
        for i in 0..<100 { content += "2026/11/27 05:10:\(String(format: "%02d", i % 60)) INFO: [Master] line \(i)\n" }
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        let all = try ClusterLogTail.read(path, maxBytes: 1 << 20)
        #expect(all.count == 100 && all[0].position == 0 && all[99].description == "line 99")
        let firstLength = content.split(separator: "\n")[0].utf8.count + 1
        #expect(all[7].position == 7 * firstLength)
        let lastLength = content.split(separator: "\n")[99].utf8.count + 1
        let tail = try ClusterLogTail.read(path, maxBytes: 5 * lastLength + 3)
        #expect(tail.map(\.description) == ["line 95", "line 96", "line 97", "line 98", "line 99"])
        #expect(try ClusterLogTail.read(dir.appendingPathComponent("missing.log").path, maxBytes: 100).isEmpty)
    }

    @Test func nodeLogsFiltersAndPagesNewestFirst() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let node = try FakeNode(root: dir)
        try """
        2026/11/27 05:00:00 INFO: [Master] [D API] one
        2026/11/27 05:00:01 ERROR: [Worker worker-1] [Integrity sync] two
        2026/11/27 05:00:01 INFO: [Worker worker-1] [Integrity check] three
        2026/11/27 05:00:02 ERROR: [Local Server] four

        """.write(toFile: node.logFile, atomically: true, encoding: .utf8)
        let all = try Self.run("node.logs", on: node)
        #expect(all.affectedItems.map { $0["description"]! } == ["four", "three", "two", "one"])
        #expect(all.affectedItems[0]["node"] == "worker-1")
        let errors = try Self.run("node.logs", ["level": "error"], on: node)
        #expect(errors.affectedItems.map { $0["description"]! } == ["four", "two"])
        let tagged = try Self.run("node.logs", ["tag": "integrity check,local server"], on: node)
        #expect(tagged.affectedItems.map { $0["description"]! } == ["four", "three"])
        let searched = try Self.run("node.logs", ["search": "THR", "select": ["description"]], on: node)
        #expect(searched.affectedItems == [["description": "three"]])
        let paged = try Self.run("node.logs", ["sort": "timestamp", "offset": 1, "limit": 2], on: node)
        #expect(paged.affectedItems.map { $0["description"]! } == ["three", "two"] && paged.totalAffectedItems == 4)
    }

    @Test func configNeverCarriesTheKey() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Self.run("cluster.config", on: try FakeNode(root: dir))
        let text = JSONWriter.compact.string(r.json)
        #expect(!text.contains("0123456789abcdef") && !text.contains("\"key\""))
        #expect(r.affectedItems.first?["node_name"] == "worker-1" && r.affectedItems.first?["nodes"] == ["10.0.0.1"])
    }

    /// `get_hash`: rules, decoders and lists only, BLAKE2b-512 of each file.
    @Test func integrityHashCoversTheRulesetOnly() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = ["etc/rules/local_rules.xml": "<group/>", "etc/decoders/local_decoder.xml": "<decoder/>",
                     "etc/lists/audit-keys": "a:b", "etc/shared/default/agent.conf": "<agent_config/>",
                     "etc/rules/old.xml~": "backup"]
        for (path, content) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
        let r = try Self.run("integrity.hash", on: try FakeNode(root: dir))
        let hashes = try #require(r.affectedItems.first?["hashes"]?.objectValue)
        #expect(Set(hashes.keys) == ["etc/rules/local_rules.xml", "etc/decoders/local_decoder.xml", "etc/lists/audit-keys"])
        #expect(hashes["etc/rules/local_rules.xml"] == .string(Digest.blake2b512Hex(Array("<group/>".utf8))))
    }

    @Test func masterFactsThroughTheContext() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        var node = try FakeNode(root: dir, type: "master", name: "master-node")
        node.nodes = [NodeInfo(name: "master-node", type: "master", version: "4.9.2", ip: "10.0.0.1"),
                      NodeInfo(name: "worker-2", type: "worker", version: "4.9.2", ip: "10.0.0.3"),
                      NodeInfo(name: "worker-1", type: "worker", version: "4.9.2", ip: "10.0.0.2")]
        let nodes = try Self.run("cluster.nodes", ["type": "worker", "sort": "name", "select": "name"], on: node)
        #expect(nodes.affectedItems == [["name": "worker-1"], ["name": "worker-2"]] && nodes.totalAffectedItems == 2)
        #expect(throws: ClusterError.self) { try Self.run("cluster.nodes", ["type": "client"], on: node) }
        let health = try Self.run("cluster.health", on: node)
        #expect(health.affectedItems.map { $0["info"]!["name"]! } == ["master-node", "worker-1", "worker-2"])
        let one = try Self.run("cluster.health", ["filter_node": ["worker-2"]], on: node)
        #expect(one.affectedItems.map { $0["info"]!["name"]! } == ["worker-2"])
    }

    @Test func agentOperationsSayWhenThereIsNoStore() throws {
        let dir = try Self.temp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let node = try FakeNode(root: dir)
        for op in ["agents.list", "agents.summary"] {
            #expect(throws: ClusterError.self) { try Self.run(op, on: node) }
            do { _ = try Self.run(op, on: node) } catch let e as ClusterError {
                #expect(e.code == 3101 && e.message.contains("agent store not available"))
            }
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self.init()
        for (k, v) in elements { self[k] = v }
    }
}
