import Foundation
import Testing
@testable import ClusterKit

/// Merging fixes the reference's W12–W14: every node's items, one global sort and page, failed
/// nodes listed with their error.
@Suite struct ResultMergeTests {
    static let itemsStrategy = AgentsListOperation().merge

    /// Agents spread over nodes, with repeated names, nulls and mixed types in the sort field.
    static func agents(node: String, count: Int, seed: inout UInt64) -> [JSON] {
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        return (0..<count).map { _ in
            let id = Int(next() % 100_000)
            let nameRoll = next() % 10
            let name: JSON = nameRoll == 0 ? .null : .string(["alpha", "Beta", "gamma", "delta", "épsilon", "zeta"][Int(next() % 6)])
            let groups: [JSON] = [[], ["default"], ["default", "web"], ["web"], ["db", "web"]][Int(next() % 5)]
            return ["id": .string(String(format: "%03d", id)), "name": name, "node_name": .string(node), "group": .array(groups),
                    "version": .int(Int64(next() % 4)), "status": .string(next() % 2 == 0 ? "active" : "disconnected")]
        }
    }

    /// What one node answers for forwarded arguments: its own items, sorted and paged the same
    /// way the operation pages.
    static func nodeAnswer(_ items: [JSON], forwarded: JSONObject) throws -> DapiResult {
        let paging = try DapiPaging(DapiArguments(operation: "agents.list", forwarded), strategy: itemsStrategy)
        let page = paging.page(items)
        return DapiResult(items: page.items, total: page.total)
    }

    /// For many sorts, offsets and limits: merging the nodes' first offset+limit items gives
    /// exactly the page one node holding every agent would give.
    @Test func fanOutPageEqualsTheGlobalPage() throws {
        var seed: UInt64 = 42
        let byNode = ["master-node": Self.agents(node: "master-node", count: 40, seed: &seed),
                      "worker-1": Self.agents(node: "worker-1", count: 75, seed: &seed),
                      "worker-2": Self.agents(node: "worker-2", count: 60, seed: &seed)]
        let everything = byNode.values.flatMap { $0 }
        let sorts: [JSON] = ["name", "-name", "+name,-version", "version,-id", "-status,name", .null, "-node_name", "group,-id", "-id"]
        for sort in sorts {
            for (offset, limit) in [(0, 10), (5, 10), (0, 1), (90, 50), (170, 20), (0, 500), (3, 0)] {
                var args: JSONObject = ["offset": .int(Int64(offset)), "limit": .int(Int64(limit))]
                if !sort.isNull { args["sort"] = sort }
                let arguments = DapiArguments(operation: "agents.list", args)
                let forwarded = try DapiPaging(arguments, strategy: Self.itemsStrategy).forwarded(args)
                #expect(forwarded["offset"] == 0 && forwarded["limit"]?.intValue == Int64(offset + limit))
                let answers = try byNode.keys.sorted().map { node in
                    ResultMerge.NodeAnswer(node: node, answer: .result(try Self.nodeAnswer(byNode[node]!, forwarded: forwarded)))
                }
                let merged = try ResultMerge.merge(answers, strategy: Self.itemsStrategy, arguments: arguments)
                let global = try DapiPaging(arguments, strategy: Self.itemsStrategy).page(everything)
                #expect(merged.affectedItems == global.items, "sort \(sort) offset \(offset) limit \(limit)")
                #expect(merged.totalAffectedItems == everything.count)
                #expect(!merged.hasFailures)
            }
        }
    }

    /// The example of the issue: the global first ten by name, not ten per node.
    @Test func firstTenByNameAcrossNodes() throws {
        func agent(_ id: Int, _ name: String, _ node: String) -> JSON { ["id": .string(String(format: "%03d", id)), "name": .string(name), "node_name": .string(node)] }
        let w1 = (1...15).map { agent($0, "w1-agent-\(String(format: "%02d", $0))", "worker-1") }
        let w2 = (16...30).map { agent($0, "a-w2-agent-\(String(format: "%02d", $0))", "worker-2") }
        let args: JSONObject = ["limit": 10, "sort": "name"]
        let arguments = DapiArguments(operation: "agents.list", args)
        let fwd = try DapiPaging(arguments, strategy: Self.itemsStrategy).forwarded(args)
        let merged = try ResultMerge.merge([
            .init(node: "worker-1", answer: .result(try Self.nodeAnswer(w1, forwarded: fwd))),
            .init(node: "worker-2", answer: .result(try Self.nodeAnswer(w2, forwarded: fwd))),
        ], strategy: Self.itemsStrategy, arguments: arguments)
        #expect(merged.affectedItems.count == 10)
        #expect(merged.affectedItems.map { $0["node_name"]!.stringValue! } == Array(repeating: "worker-2", count: 10))
        #expect(merged.totalAffectedItems == 30)
    }

    @Test func failedNodesAreListedAndTheOthersStillAnswer() throws {
        let ok = DapiResult(items: [["id": "001", "node_name": "worker-1"]], total: 1)
        var partial = DapiResult(items: [["id": "002", "node_name": "master-node"]], total: 1)
        partial.addFailure(ClusterError.wazuh(1701), ids: ["010", "9", "100"])
        let merged = try ResultMerge.merge([
            .init(node: "master-node", answer: .result(partial)),
            .init(node: "worker-1", answer: .result(ok)),
            .init(node: "worker-2", answer: .failure(.wazuh(3021, "no answer from worker-2 within 5 s"))),
            .init(node: "worker-3", answer: .failure(.wazuh(3018, "worker-3 disconnected before answering"))),
            .init(node: "worker-4", answer: .failure(.wazuh(3021, "no answer from worker-4 within 5 s"))),
        ], strategy: Self.itemsStrategy, arguments: DapiArguments(operation: "agents.list", [:]))
        #expect(merged.affectedItems.map { $0["id"]! } == ["001", "002"])
        #expect(merged.totalAffectedItems == 2)
        #expect(merged.totalFailedItems == 6)
        let groups = merged.failedItems
        #expect(groups.map(\.error.code) == [1701, 3018, 3021, 3021])
        #expect(groups[0].ids == ["9", "010", "100"])
        #expect(groups[2].ids == ["worker-2"] && groups[3].ids == ["worker-4"])
        // In JSON, as a caller sees it.
        let json = merged.json
        #expect(json["total_failed_items"] == 6)
        #expect(json["failed_items"]?[1]?["error"]?["message"] == "Error sending request: worker-3 disconnected before answering")
        #expect(json["failed_items"]?[1]?["id"] == ["worker-3"])
        #expect(try DapiResult(json: json) == merged)
    }

    /// Every node failing is still a result (nothing affected), not one node's error replacing
    /// all (the reference's W13).
    @Test func allNodesFailing() throws {
        let merged = try ResultMerge.merge([
            .init(node: "a", answer: .failure(.wazuh(3101, "agent store not available"))),
            .init(node: "b", answer: .failure(.wazuh(3101, "agent store not available"))),
        ], strategy: .sum, arguments: DapiArguments(operation: "agents.summary", [:]))
        #expect(merged.affectedItems.isEmpty && merged.totalFailedItems == 2)
        #expect(merged.failedItems.count == 1 && merged.failedItems[0].ids == ["a", "b"])
    }

    @Test func selectKeepsOnlyAskedFieldsButSortsOnOthers() throws {
        let args: JSONObject = ["select": "name", "sort": "-version", "limit": 2]
        let arguments = DapiArguments(operation: "agents.list", args)
        let paging = try DapiPaging(arguments, strategy: Self.itemsStrategy)
        let fwd = paging.forwarded(args)
        #expect(fwd["select"] == ["name", "version", "id", "node_name"])
        let items: [JSON] = [["id": "001", "name": "a", "version": 1, "node_name": "w"], ["id": "002", "name": "b", "version": 3, "node_name": "w"],
                             ["id": "003", "name": "c", "version": 2, "node_name": "w"]]
        let node = try Self.nodeAnswer(items, forwarded: fwd)
        #expect(node.affectedItems.first?["version"] == 3)
        let merged = try ResultMerge.merge([.init(node: "w", answer: .result(node))], strategy: Self.itemsStrategy, arguments: arguments)
        #expect(merged.affectedItems == [["id": "002", "name": "b"], ["id": "003", "name": "c"]])
    }

    @Test func summariesAddUp() throws {
        let a: JSON = ["total": 3, "by_status": ["active": 2, "disconnected": 1], "by_node": ["worker-1": 3], "by_group": ["default": 3]]
        let b: JSON = ["total": 2, "by_status": ["active": 1, "pending": 1], "by_node": ["worker-2": 2], "by_group": ["default": 1, "web": 2]]
        let merged = try ResultMerge.merge([.init(node: "worker-1", answer: .result(DapiResult(items: [a]))),
                                            .init(node: "worker-2", answer: .result(DapiResult(items: [b]))),
                                            .init(node: "worker-3", answer: .failure(.wazuh(3021)))],
                                           strategy: .sum, arguments: DapiArguments(operation: "agents.summary", [:]))
        #expect(merged.affectedItems == [["total": 5, "by_status": ["active": 3, "disconnected": 1, "pending": 1],
                                          "by_node": ["worker-1": 3, "worker-2": 2], "by_group": ["default": 4, "web": 2]]])
        #expect(merged.failedItems.map(\.ids) == [["worker-3"]])
        // The reference's rules for the rest.
        #expect(ResultMerge.add("x", "x") == "x")
        #expect(ResultMerge.add("x", "y") == "x|y")
        #expect(ResultMerge.add([1, 2], [2, 3]) == [1, 2, 3])
        #expect(ResultMerge.add(1, 0.5) == 1.5)
    }

    /// Agents' ids compare as numbers ("999" before "1000") and their groups as the store's
    /// comma-joined text ("a" before "a,b"), as the store's ORDER BY has them.
    @Test func agentCollationFollowsTheStore() {
        let c = AgentsListOperation.collation
        let byID = DapiSort.sort([["id": "1000"], ["id": "999"], ["id": "001"]], by: [DapiSortKey("id")], collation: c)
        #expect(byID.map { $0["id"]! } == ["001", "999", "1000"])
        let byGroup = DapiSort.sort([["group": ["a", "b"]], ["group": ["a"]], ["id": "7"], ["group": ["a,b"]]],
                                    by: [DapiSortKey("group")], collation: c)
        #expect(byGroup == [["id": "7"], ["group": ["a"]], ["group": ["a", "b"]], ["group": ["a,b"]]])
    }

    @Test func orderIsSQLites() {
        let ascending: [JSON] = [.null, false, true, -3, 2.5, 10, "", "Zeta", "alpha", "épsilon", [1], ["a": 1]]
        for i in ascending.indices {
            for j in ascending.indices {
                let c = DapiSort.compare(ascending[i], ascending[j])
                #expect(c == (i < j ? -1 : i > j ? 1 : 0), "\(ascending[i]) vs \(ascending[j])")
            }
        }
        let keys = try! DapiSort.parse("-a,+b")
        #expect(keys == [DapiSortKey("a", ascending: false), DapiSortKey("b")])
        #expect(try! DapiSort.parse(["fields": ["a", "b"], "order": "desc"]) == [DapiSortKey("a", ascending: false), DapiSortKey("b", ascending: false)])
        #expect(DapiSort.value(["info": ["name": "x"]], "info.name") == "x")
        let sorted = DapiSort.sort([["a": 2, "b": 1], ["a": 1, "b": 2], ["a": 2, "b": 0]], by: keys)
        #expect(sorted == [["a": 2, "b": 0], ["a": 2, "b": 1], ["a": 1, "b": 2]])
    }
}
