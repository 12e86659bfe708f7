import Testing
@testable import ClusterKit

/// Every size a caller or a peer gives a distributed API request is bounded, and refused with
/// 3100 before anything runs.
@Suite struct DapiLimitsTests {
    static func refusal(_ body: () throws -> Any) -> ClusterError? {
        do { _ = try body(); return nil } catch let e as ClusterError { return e } catch { return nil }
    }

    static func request(_ json: JSON) -> [UInt8] { JSONWriter.compact.bytes(json) }

    static func agentIds(_ n: Int) -> [JSON] {
        (1...n).map { (i: Int) -> JSON in
            let digits = String(i)
            return .string(digits.count < 3 ? String(repeating: "0", count: 3 - digits.count) + digits : digits)
        }
    }

    /// Not JSON at all: the size is refused first, so nothing was parsed.
    @Test func requestOverTheLimitIsRefusedBeforeParsing() throws {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: DapiLimits.maxRequestBytes + 1)
        let e = try #require(Self.refusal { try DapiRequest(bytes: bytes) })
        #expect(e.code == 3100)
        #expect(e.message.contains("\(DapiLimits.maxRequestBytes + 1) bytes"))
        #expect(e.message.contains("\(DapiLimits.maxRequestBytes)-byte limit"))
        #expect(!e.message.contains("not JSON"))
        #expect(Self.refusal { try OperationRegistry.standard.prepare(bytes) }?.code == 3100)
    }

    @Test func requestAtTheLimitIsRead() throws {
        var bytes = Self.request(["f": "cluster.health"])
        bytes += [UInt8](repeating: 0x20, count: DapiLimits.maxRequestBytes - bytes.count)
        #expect(try DapiRequest(bytes: bytes).operation == "cluster.health")
    }

    @Test func nodeSnapshotIsBounded() throws {
        let names = (0..<DapiLimits.maxNodeNames).map { JSON.string("worker-\($0)") }
        #expect(try DapiRequest(json: ["f": "cluster.health", "nodes": .array(names)]).nodes.count == 4096)
        let tooMany = try #require(Self.refusal { try DapiRequest(json: ["f": "cluster.health", "nodes": .array(names + ["one-more"])]) })
        #expect(tooMany.code == 3100 && tooMany.message.contains("\"nodes\" names 4097 nodes") && tooMany.message.contains("4096"))

        let longest = String(repeating: "n", count: DapiLimits.maxNodeNameBytes)
        #expect(try DapiRequest(json: ["f": "cluster.health", "nodes": [.string(longest)]]).nodes == [longest])
        let long = try #require(Self.refusal { try DapiRequest(json: ["f": "cluster.health", "nodes": [.string(longest + "n")]]) })
        #expect(long.code == 3100 && long.message.contains("257 bytes") && long.message.contains("256"))
        // The name is shown cut, not whole.
        #expect(long.message.utf8.count < 400)
    }

    @Test func nodeListAndNodeIdAreBounded() throws {
        let reg = OperationRegistry.standard
        let names = (0..<DapiLimits.maxNodeNames).map { JSON.string("w\($0)") }
        let ok = try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": .array(names)]))
        #expect(ok.targetNodes?.count == 4096)

        let array = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": .array(names + ["x"])])) })
        #expect(array.code == 3100 && array.message.contains("\"node_list\" names 4097 nodes") && array.message.contains("node.stats"))

        let text = (0...DapiLimits.maxNodeNames).map { "w\($0)" }.joined(separator: ",")
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": .string(text)])) }?.code == 3100)

        let long = String(repeating: "n", count: DapiLimits.maxNodeNameBytes + 1)
        let id = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_id": .string(long)])) })
        #expect(id.code == 3100 && id.message.contains("\"node_id\"") && id.message.contains("257 bytes"))
        let listed = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": [.string(long)]])) })
        #expect(listed.message.contains("\"node_list\""))
    }

    @Test func argumentsAreBoundedAsForwarded() throws {
        let big = String(repeating: "a", count: DapiLimits.maxArgumentBytes)
        let e = try #require(Self.refusal { try DapiRequest(bytes: Self.request(["f": "agents.list", "f_kwargs": ["search": .string(big)]])) })
        #expect(e.code == 3100)
        #expect(e.message.contains("agents.list") && e.message.contains("arguments are") && e.message.contains("\(DapiLimits.maxArgumentBytes)-byte limit"))
    }

    /// 1.5 MiB of "é" arrives within the request limit but is 4.5 MiB once a node forwards it
    /// as `\u00e9`: refused here rather than by the next node.
    @Test func argumentsThatGrowWhenForwardedAreRefusedWhereTheyArrive() throws {
        let text = String(repeating: "é", count: 768 << 10)
        let bytes = Self.request(["f": "agents.list", "f_kwargs": ["search": .string(text)]])
        #expect(bytes.count < DapiLimits.maxRequestBytes)
        #expect(Self.refusal { try DapiRequest(bytes: bytes) }?.message.contains("as forwarded") == true)
    }

    /// The largest request the limits are sized for: one naming 100,000 agents, read, relayed
    /// to the master in Python's form and read again.
    @Test func requestNamingAHundredThousandAgentsIsAcceptedAndRelayed() throws {
        let bytes = Self.request(["f": "agents.list", "f_kwargs": ["agent_list": .array(Self.agentIds(100_000)), "limit": 100_000],
                                  "request_type": "distributed_master"])
        let prepared = try OperationRegistry.standard.prepare(bytes)
        #expect(prepared.arguments.values["agent_list"]?.arrayValue?.count == 100_000)
        let relayed = prepared.request.bytes
        #expect(relayed.count > bytes.count)
        #expect(try DapiRequest(bytes: relayed) == prepared.request)
        try CommandPayloadLimits.standard.check(command: ClusterCommand.dapi, payloadCount: relayed.count + 21)
    }

    @Test func logTailIsRefusedPastSixteenMiB() throws {
        let reg = OperationRegistry.standard
        #expect(NodeLogsOperation.maxTailBytes == 16 << 20)
        _ = try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["tail_bytes": .int(16 << 20)]))
        _ = try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["tail_bytes": 1]))
        let e = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["tail_bytes": .int((16 << 20) + 1)])) })
        #expect(e.code == 3100)
        #expect(e.message.contains("node.logs") && e.message.contains("tail_bytes") && e.message.contains("16777217") && e.message.contains("16 MiB"))
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["tail_bytes": .int(Int64.max)])) }?.code == 3100)
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["tail_bytes": 0])) }?.code == 3100)
    }
}
