import ClusterKit
import Foundation
import Testing
@testable import ClusterNode

/// `agents.list` has two paths: rows written straight to bytes on each node and a merge that
/// scans the answers (what runs), and values built, merged and written (what runs when the
/// first does not apply). Over three real agent stores, for many requests, a client gets the
/// same bytes from both: each node's answer, and the fan-out's merged answer.
@Suite struct AgentsListPathsTests {
    /// A node of the test cluster: its config and its own agent store file.
    struct StoreNode: DapiNodeContext {
        var config: ClusterConfig
        var store: AgentStore
        var logFile: String { "/nonexistent/cluster.log" }

        init(name: String, type: String, root: URL) throws {
            var node: JSON = ["name": .string(name), "type": .string(type), "root": .string(root.path)]
            if type == "worker" { node["master"] = "10.0.0.1:1516" }
            config = try ClusterConfig(json: ["cluster": ["name": "wazuh", "key": "0123456789abcdef0123456789abcdef"], "node": node],
                                       baseDirectory: root.path)
            // A node's root exists before its store is opened (NodeRoot).
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            store = try AgentStore(config: config)
        }

        func clusterNodes() throws -> [NodeInfo] { [] }
        func clusterHealth(filter: JSON?) throws -> JSON { .null }
        func statistics() -> JSON { .null }
        func agentSource() throws -> DapiAgentSource { StoreAgentSource(store: store, node: config.nodeName) }
    }

    static let nodeNames = ["master-node", "worker-1", "worker-2"]

    /// A master and two workers. Each worker holds its agents and a row of another node's groups;
    /// the master holds copies of the workers' agents and a few of its own.
    static func cluster(_ root: URL) async throws -> [String: StoreNode] {
        var nodes = [String: StoreNode]()
        for (i, name) in nodeNames.enumerated() {
            nodes[name] = try StoreNode(name: name, type: i == 0 ? "master" : "worker", root: root.appendingPathComponent(name))
        }
        var rng: UInt64 = 99
        func next(_ n: Int) -> Int { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Int(rng >> 33) % n }
        let names = ["agent-a", "agent-b", "agent-a", "Zulu", "épsilon", "e\u{301}psilon", "quote\"d", "tab\tname", "中文"]
        var all = [AgentRecord]()
        for id in 1...300 {
            var r = AgentRecord(id: id)
            r["name"] = .text(names[next(names.count)] + (next(3) == 0 ? "" : "-\(next(40))"))
            r["ip"] = .text("10.0.\(id / 256).\(id % 256)")
            if next(3) > 0 { r["version"] = .text("Wazuh v4.9.\(next(3))") }
            if next(2) == 0 { r["last_keepalive"] = .integer(Int64(1_700_000_000 + next(50))) }
            r["connection_status"] = .text(["active", "disconnected", "pending", "never_connected"][next(4)])
            r["node_name"] = .text(id <= 20 ? "master-node" : id <= 170 ? "worker-1" : "worker-2")
            if next(4) == 0 { r.labels = [AgentLabel(key: "env", value: names[next(names.count)])] }
            all.append(r)
        }
        for name in nodeNames.dropFirst() {
            let store = nodes[name]!.store
            #expect(try store.upsert(all.filter { $0.nodeName == name }, defaultNode: name).isEmpty)
        }
        let master = nodes["master-node"]!.store
        #expect(try master.upsert(all, defaultNode: "master-node").isEmpty)
        let groups = stride(from: 1, through: 300, by: 2).map { AgentGroupsEntry(id: $0, groups: [["default"], ["default", "web"], ["web"]][next(3)]) }
        #expect(try master.setGroups(groups).isEmpty)
        for name in nodeNames.dropFirst() {
            let mine = Set(all.filter { $0.nodeName == name }.map(\.id))
            // Agent 1 is the master's: the workers keep only its groups, and do not answer for it.
            try await nodes[name]!.store.applyGroups(groups.filter { mine.contains($0.id) || $0.id == 1 }, full: false)
        }
        return nodes
    }

    /// Runs a fan-out the way the master does (`MasterNode.dapiFanOut`): forwarded arguments, the
    /// agent owners' plan, each node's answer, the merge. `fast` picks the path.
    static func fanOut(_ args: JSONObject, nodes: [String: StoreNode], failed: Bool, fast: Bool) throws -> (answers: [String: [UInt8]], merged: DapiAnswer) {
        let p = try OperationRegistry.standard.prepare(DapiRequest(operation: "agents.list", arguments: args, requestType: .distributedMaster))
        let forwarded = try DapiPaging(p.arguments, strategy: p.operation.merge).forwarded(p.arguments.values)
        let plan: DapiPlan
        if let ids = try p.arguments.list("agent_list"), !ids.isEmpty {
            plan = DapiPlan.byOwner(ids, owners: try nodes["master-node"]!.agentSource().owners(of: ids), args: forwarded, me: "master-node")
        } else {
            plan = DapiPlan.byNode(nil, known: nodeNames, args: forwarded)
        }
        var answers = [String: [UInt8]]()
        var merging = plan.unknown
        for target in plan.targets {
            let one = p.narrowed(to: target.args)
            let node = nodes[target.node]!
            let answer: DapiAnswer
            do { answer = fast ? try one.answer(on: node) : .result(try one.run(on: node)) } catch {
                answer = .failure(error as? ClusterError ?? .wazuh(1000, "\(error)"))
            }
            answers[target.node] = answer.bytes
            // A worker's answer arrives as bytes; the master's own is kept as it is.
            let kept = fast && target.node != "master-node" ? DapiAnswer.received(answer.bytes) : answer
            merging.append(.init(node: target.node, answer: kept))
        }
        if failed { merging.insert(.init(node: "worker-3", answer: .failure(.wazuh(3021, "no answer from worker-3 within 10 s"))), at: 1) }
        let merged = fast ? try ResultMerge.answer(merging, strategy: p.operation.merge, arguments: p.arguments)
            : .result(try ResultMerge.merge(merging, strategy: p.operation.merge, arguments: p.arguments))
        return (answers, merged)
    }

    @Test func bothPathsGiveTheSameBytes() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agents-paths-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let nodes = try await Self.cluster(root)
        let literals: [JSON] = [
            ["limit": 100, "sort": "name"],
            ["limit": 100, "sort": "-name"],
            ["limit": 10, "offset": 95, "sort": "name,-id"],
            ["limit": 25, "sort": "-connection_status,name", "select": "name,connection_status"],
            ["limit": 7, "sort": "version,last_keepalive", "select": ["labels", "version", "labels"]],
            ["limit": 50, "sort": "group,-name", "select": "group"],
            ["offset": 290, "limit": 50, "sort": "name"],
            ["offset": 400, "limit": 10],
            ["limit": 0, "sort": "name"],
            [:],
            ["status": "active,pending", "limit": 30, "sort": "-last_keepalive,name"],
            ["group": "web", "limit": 40, "sort": "ip"],
            ["agent_list": ["3", "040", "250", "999", "7"], "sort": "name"],
            ["agent_list": "3,040", "select": "ip"],
            ["search": "agent-a", "limit": 20, "sort": "name"],
            ["search": "épsilon", "select": "name"],
            ["sort": ["fields": ["name", "ip"], "order": "desc"], "limit": 60],
        ]
        let requests = literals.map { $0.objectValue! }
        var encoded = 0
        for (n, args) in requests.enumerated() {
            let failed = n % 3 == 1
            let fast = try Self.fanOut(args, nodes: nodes, failed: failed, fast: true)
            let general = try Self.fanOut(args, nodes: nodes, failed: failed, fast: false)
            let label = JSONWriter.compact.string(.object(args))
            let sameAnswers = fast.answers == general.answers, sameMerge = fast.merged.bytes == general.merged.bytes
            #expect(sameAnswers, "node answers for \(label)")
            #expect(sameMerge, "merged answer for \(label)")
            if case .encoded = fast.merged { encoded += 1 }
            // What a client checks: the page is there, and it is the general one.
            let result = try DapiResult(json: try JSON.parse(fast.merged.bytes))
            #expect(result.totalFailedItems == (failed ? 1 : 0) + (args["agent_list"] != nil && label.contains("999") ? 1 : 0), "\(label)")
        }
        // Every request without a text search went through the byte path.
        #expect(encoded == requests.filter { $0["search"] == nil }.count)
    }
}
