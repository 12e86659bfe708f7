import Foundation
import Testing
@testable import ClusterKit

/// The merge over answers kept in their bytes gives exactly the general merge's bytes, or
/// declines (nil) so that the general merge runs.
@Suite struct EncodedResultMergeTests {
    static let strategy = AgentsListOperation().merge

    /// Agents with ties in every field, missing and null fields, numbers, escapes, non-ASCII
    /// (two spellings of one name), lists and labels.
    static func agents(node: String, count: Int, seed: UInt64) -> [JSON] {
        var rng = TestBytes(seed: seed)
        let names: [JSON] = ["alpha", "Beta", "alpha", "épsilon", "e\u{301}psilon", "quote\" back\\slash", "ctl\u{1}\u{1f}\t", "中文 😀", .null, "/x/", "\u{7f}"]
        return (0..<count).map { _ in
            var o = JSONObject()
            o["id"] = .string(AgentRecord.formatID(1 + rng.below(2000)))
            if rng.below(8) > 0 { o["name"] = names[rng.below(names.count)] }
            o["node_name"] = .string(node)
            if rng.below(3) > 0 { o["version"] = .int(Int64(rng.below(4)) - 1) }
            if rng.below(2) == 0 { o["group"] = [[], ["default"], ["default", "web"], ["web"], ["db", "web"]][rng.below(5)] }
            if rng.below(4) == 0 { o["labels"] = [["key": "env", "value": names[rng.below(names.count)]]] }
            o["connection_status"] = .string(["active", "disconnected"][rng.below(2)])
            return .object(o)
        }
    }

    /// What a node answers for forwarded arguments: its items sorted and paged as the operation
    /// pages them, in the bytes `DapiResult` writes.
    static func nodeResult(_ items: [JSON], forwarded: JSONObject, failures: [(ClusterError, [String])] = []) throws -> DapiResult {
        let page = try DapiPaging(DapiArguments(operation: "agents.list", forwarded), strategy: strategy).page(items)
        var r = DapiResult(items: page.items, total: page.total)
        for (e, ids) in failures { r.addFailure(e, ids: ids) }
        return r
    }

    /// The general merge's bytes, from the answers read back from their bytes, as a fan-out reads them.
    static func general(_ answers: [ResultMerge.NodeAnswer], _ arguments: DapiArguments) throws -> [UInt8] {
        let decoded = answers.map { ResultMerge.NodeAnswer(node: $0.node, answer: $0.answer.decoded) }
        return try ResultMerge.merge(decoded, strategy: strategy, arguments: arguments).bytes
    }

    @Test func resultBytesAreTheWrittenJSON() throws {
        var r = DapiResult(items: Self.agents(node: "w", count: 20, seed: 3), total: 50)
        #expect(r.bytes == JSONWriter.compact.bytes(r.json))
        r.addFailure(ClusterError.wazuh(1701), ids: ["9", "010"])
        r.addFailure(ClusterError.wazuh(3021, "late"), ids: ["worker-9"])
        #expect(r.bytes == JSONWriter.compact.bytes(r.json))
        #expect(DapiResult().bytes == JSONWriter.compact.bytes(DapiResult().json))
    }

    /// Sorts both ways, ties, select, offsets past the end, limit 0, nodes with their own failed
    /// items, failed nodes: the same bytes, and the byte merge is the one that answered.
    @Test func sameBytesAsTheGeneralMerge() throws {
        let byNode = [("master-node", Self.agents(node: "master-node", count: 30, seed: 1)),
                      ("worker-1", Self.agents(node: "worker-1", count: 80, seed: 2)),
                      ("worker-2", Self.agents(node: "worker-2", count: 65, seed: 3)),
                      ("worker-3", [])]
        let sorts: [JSON] = ["name", "-name", "+name,-version", "version,-id", "-connection_status,name", .null, "-node_name",
                             "group,-id", "-id", "labels", "name,name", ["fields": ["version"], "order": "desc"]]
        let selects: [JSON] = [.null, "name", "name,group,name", ["labels", "version"], "node_name"]
        var declined = 0, answered = 0
        for sort in sorts {
            for (n, select) in selects.enumerated() {
                for (offset, limit) in [(0, 10), (5, 10), (0, 1), (90, 50), (170, 20), (0, 500), (3, 0), (400, 10)] {
                    var args: JSONObject = ["offset": .int(Int64(offset)), "limit": .int(Int64(limit))]
                    if !sort.isNull { args["sort"] = sort }
                    if !select.isNull { args["select"] = select }
                    let arguments = DapiArguments(operation: "agents.list", args)
                    let forwarded = try DapiPaging(arguments, strategy: Self.strategy).forwarded(args)
                    var answers = try byNode.map { node, items in
                        let failures: [(ClusterError, [String])] = node == "worker-1" && n % 2 == 1 ? [(ClusterError.wazuh(1701), ["77", "007"])] : []
                        return ResultMerge.NodeAnswer(node: node, answer: .encoded(try Self.nodeResult(items, forwarded: forwarded, failures: failures).bytes))
                    }
                    if n == 2 { answers.insert(.init(node: "worker-4", answer: .failure(.wazuh(3021, "no answer from worker-4 within 5 s"))), at: 1) }
                    if n == 3 { answers.append(.init(node: "worker-5", answer: .failure(.wazuh(3018, "worker-5 disconnected before answering")))) }
                    let expected = try Self.general(answers, arguments)
                    let fast = EncodedResultMerge.merge(answers, strategy: Self.strategy, arguments: arguments)
                    if let fast {
                        let same = fast == expected
                        #expect(same, "sort \(sort) select \(select) offset \(offset) limit \(limit)")
                        answered += 1
                    } else {
                        declined += 1
                    }
                    #expect(try ResultMerge.answer(answers, strategy: Self.strategy, arguments: arguments).bytes == expected)
                }
            }
        }
        // Every case is the byte merge's: the answers are all in the written form.
        #expect(declined == 0 && answered == sorts.count * selects.count * 8)
    }

    /// An answer whose items are out of order (not what a node sends) is sorted, not merged:
    /// still the general merge's bytes. Equal items keep the order of the nodes, merged or sorted.
    @Test func unsortedAnswersAndEqualItems() throws {
        let args: JSONObject = ["limit": 7, "sort": "name"]
        let arguments = DapiArguments(operation: "agents.list", args)
        let a = DapiResult(items: [["id": "003", "name": "c"], ["id": "001", "name": "a"], ["id": "002", "name": "b"]])
        let b = DapiResult(items: [["id": "001", "name": "a"], ["id": "001", "name": "a", "x": 1], ["id": "009", "name": "b"]])
        let c = DapiResult(items: [["id": "002", "name": "épsilon"], ["id": "001", "name": "e\u{301}psilon"], ["id": "001", "name": "a"]])
        // In order, and equal under every key (no node_name): merged, the earlier node's first.
        let d = DapiResult(items: [["id": "001", "name": "a", "x": 1], ["id": "002", "name": "b", "x": 1]])
        let e = DapiResult(items: [["id": "001", "name": "a", "x": 2], ["id": "002", "name": "b", "x": 2]])
        for answers in [[a, b], [b, a], [b, c], [c, b, a], [d, e], [e, d], [d, e, d]] {
            let nodes = answers.enumerated().map { ResultMerge.NodeAnswer(node: "n\($0.offset)", answer: .encoded($0.element.bytes)) }
            let fast = try #require(EncodedResultMerge.merge(nodes, strategy: Self.strategy, arguments: arguments))
            #expect(fast == (try Self.general(nodes, arguments)))
        }
    }

    /// Bytes that are not exactly what `DapiResult` writes (spaces, other escapes, fractions,
    /// `-0`, duplicate keys, invalid UTF-8, extra members, an exception) make the byte merge
    /// decline; the merged answer is still the general one, failures and all.
    @Test func otherFormsAreLeftToTheGeneralMerge() throws {
        let arguments = DapiArguments(operation: "agents.list", ["limit": 5, "sort": "name"])
        let good = #"{"affected_items":[{"id":"001","name":"a"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#
        let others = [
            #"{"affected_items": [{"id":"002","name":"b"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","name":"\/b"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","name":"\u0062"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","name":"\u000a"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","name":"\u001F"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","v":1.0}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","v":-0}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","v":1e3}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","v":99999999999999999999}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","id":"003"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","l":[{"k":1,"k":2}]}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","nämе":"x"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[2],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002"}],"total_affected_items":"1","failed_items":[],"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002"}],"total_affected_items":1,"failed_items":[{"id":["5"]}],"total_failed_items":1}"#,
            #"{"affected_items":[{"id":"002"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0,"more":1}"#,
            #"{"affected_items":[{"id":"002"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0} "#,
            #"{"affected_items":[{"id":"002"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0"#,
            #"{"affected_items":[{"id":"002"}],"failed_items":[],"total_affected_items":1,"total_failed_items":0}"#,
            #"{"affected_items":[{"id":"002","deep":"# + String(repeating: "[", count: 520) + String(repeating: "]", count: 520) + #"}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#,
        ].map { Array($0.utf8) } + [
            Array(#"{"affected_items":[{"id":"002","name":""#.utf8) + [0xC3, 0x28] + Array(#""}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#.utf8),
            Array(#"{"affected_items":[{"id":"002","name":"tab"#.utf8) + [0x09] + Array(#""}],"total_affected_items":1,"failed_items":[],"total_failed_items":0}"#.utf8),
        ]
        for other in others {
            let answers: [ResultMerge.NodeAnswer] = [.init(node: "a", answer: .encoded(Array(good.utf8))), .init(node: "b", answer: .encoded(other)),
                                                      .init(node: "c", answer: .failure(.wazuh(3021)))]
            #expect(EncodedResultMerge.merge(answers, strategy: Self.strategy, arguments: arguments) == nil, "\(String(decoding: other, as: UTF8.self).prefix(120))")
            #expect(try ResultMerge.answer(answers, strategy: Self.strategy, arguments: arguments).bytes == (try Self.general(answers, arguments)))
        }
        // Failed items in the written form are read as the general merge reads them (a message
        // missing is the catalogue's).
        let withFailures: [ResultMerge.NodeAnswer] = [
            .init(node: "a", answer: .encoded(Array(good.utf8))),
            .init(node: "b", answer: .encoded(Array(#"{"affected_items":[{"id":"002"}],"total_affected_items":1,"failed_items":[{"error":{"code":1701},"id":["5",7]}],"total_failed_items":"any"}"#.utf8))),
        ]
        let merged = try #require(EncodedResultMerge.merge(withFailures, strategy: Self.strategy, arguments: arguments))
        #expect(merged == (try Self.general(withFailures, arguments)))
        #expect(String(decoding: merged, as: UTF8.self).contains(#""failed_items":[{"error":{"code":1701,"message":"#))

        // A sort field that reaches into objects, or a non-ASCII name, is the general merge's too.
        let answers: [ResultMerge.NodeAnswer] = [.init(node: "a", answer: .encoded(Array(good.utf8)))]
        for args: JSONObject in [["sort": "labels.key"], ["select": "nämе"], ["sort": "nämе"]] {
            #expect(EncodedResultMerge.merge(answers, strategy: Self.strategy, arguments: DapiArguments(operation: "agents.list", args)) == nil)
        }
        // Answers that are not kept in their bytes, or a sum, are not this merge's.
        #expect(EncodedResultMerge.merge([.init(node: "a", answer: .result(DapiResult()))], strategy: Self.strategy, arguments: arguments) == nil)
        #expect(EncodedResultMerge.merge([.init(node: "a", answer: .failure(.wazuh(3021)))], strategy: Self.strategy, arguments: arguments) == nil)
        #expect(EncodedResultMerge.merge(answers, strategy: .sum, arguments: arguments) == nil)
    }

    /// A fan-out of a few hundred agents merges where the answers arrive; megabytes go to a thread.
    @Test func largeMergesLeaveTheLoop() {
        let page: [ResultMerge.NodeAnswer] = (0..<3).map { .init(node: "n\($0)", answer: .encoded([UInt8](repeating: 0x20, count: 28_000))) }
        #expect(!ResultMerge.isLarge(page))
        #expect(ResultMerge.isLarge(page + [.init(node: "big", answer: .encoded([UInt8](repeating: 0x20, count: 1 << 20)))]))
        #expect(ResultMerge.isLarge([.init(node: "n", answer: .result(DapiResult(items: Array(repeating: ["id": "001"], count: 1001))))]))
    }

    /// What a node sends is kept in its bytes when it is a result, read at once when it is an error.
    @Test func receivedAnswers() throws {
        let result = DapiResult(items: [["id": "001"]]).bytes
        #expect(DapiAnswer.received(result) == .encoded(result))
        #expect(DapiAnswer.received(result).decoded == .result(DapiResult(items: [["id": "001"]])))
        let error = WireError.payload(ClusterError.wazuh(3021, "late"))
        #expect(DapiAnswer.received(error) == .failure(ClusterError.wazuh(3021, "late")))
        #expect(DapiAnswer.received(Array("{\"affected_items\":".utf8)).decoded == .failure(ClusterError.wazuh(3036, "{\"affected_items\":")))
    }
}
