import Foundation
import Testing
@testable import ClusterKit

/// The group hashes must equal wazuh-db's (sync §6.1), or master and workers would never agree.
@Suite struct GroupHashTests {
    /// Checked by hand:
    ///   printf 'default'    | sha256sum  → 37a8eec1ce19687d…  → "37a8eec1"
    ///   printf 'default,g1' | sha256sum  → 7f8154fe4c2e3c31…  → "7f8154fe"
    ///   printf 'g1'         | sha256sum  → 711430f6164e9380…  → "711430f6"
    ///   printf '37a8eec17f8154fe' | sha1sum → 6053b6642b397adf5cc99e528cce645cce645d57
    ///   printf '37a8eec1'         | sha1sum → aac8edbccfab5ea7eee53016af08b756a44dc399
    @Test func knownValues() {
        #expect(GroupHash.agent(["default"]) == "37a8eec1")
        #expect(GroupHash.agent(["default", "g1"]) == "7f8154fe")
        #expect(GroupHash.agent(["g1"]) == "711430f6")
        #expect(GroupHash.agent(["g1", "default"]) != GroupHash.agent(["default", "g1"]), "priority order matters")
        #expect(GroupHash.agent([]) == nil)
        #expect(GroupHash.global(["37a8eec1", "7f8154fe"]) == "6053b6642b397adf5cc99e528cce645cce645d57")
        #expect(GroupHash.global(["37a8eec1"]) == "aac8edbccfab5ea7eee53016af08b756a44dc399")
        #expect(GroupHash.global([String]()) == nil)
    }

    /// Random group lists, hashed here and by Python's hashlib from the reference's definition.
    @Test func matchesTheDefinitionOnRandomInputs() throws {
        var rng = TestBytes(seed: 42)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        var lists = [[String]]()
        for _ in 0..<200 {
            let n = rng.below(5)
            lists.append((0..<n).map { i in "g\(i)" + String((0..<(1 + rng.below(12))).map { _ in alphabet[rng.below(alphabet.count)] }) })
        }
        let input = JSONWriter.compact.bytes(.array(lists.map { .array($0.map { .string($0) }) }))
        let script = """
            import hashlib, json, sys
            lists = json.load(sys.stdin)
            agents = [hashlib.sha256(",".join(l).encode()).hexdigest()[:8] if l else None for l in lists]
            present = [h for h in agents if h is not None]
            print(json.dumps({"agents": agents, "global": hashlib.sha1("".join(present).encode()).hexdigest() if present else None}))
            """
        let out = try JSON.parse(try runProgram("/usr/bin/env", ["python3", "-c", script], stdin: input))
        let expected = out["agents"]!.arrayValue!.map(\.stringValue)
        let ours = lists.map { GroupHash.agent($0) }
        #expect(ours == expected)
        #expect(GroupHash.global(ours.compactMap { $0 }) == out["global"]!.stringValue)
    }

    @Test func groupNames() throws {
        #expect(try AgentGroups.parse(["default", "web-1", "a.b_c"]) == ["default", "web-1", "a.b_c"])
        #expect(try AgentGroups.parse("default,g1") == ["default", "g1"])
        #expect(try AgentGroups.parse([]) == [])
        for bad: JSON in [["a,b"], ["."], [".."], [""], ["x y"], ["dup", "dup"], [1], "a,,b"] {
            #expect(throws: ClusterError.self) { try AgentGroups.parse(bad) }
        }
        #expect(throws: ClusterError.self) { try AgentGroups.parse(.array((0...128).map { .string("g\($0)") })) }
    }

    /// The store computes the same hashes when groups are set, and the global hash ignores agents
    /// without groups.
    @Test func storeKeepsTheHashes() throws {
        let dir = try TemporaryStore()
        let store = dir.store
        _ = try store.upsert([1, 2, 3].map { AgentRecordTests.record($0) }, defaultNode: "w")
        #expect(try store.setGroups([AgentGroupsEntry(id: 1, groups: ["default"]), AgentGroupsEntry(id: 3, groups: ["default", "g1"])]).isEmpty)
        #expect(try store.globalGroupHashNow() == "6053b6642b397adf5cc99e528cce645cce645d57")
        let list = try store.list(AgentQuery())
        #expect(list["items"]?[0]?["group_hash"]?.stringValue == "37a8eec1")
        #expect(list["items"]?[1]?["group_hash"] == nil)
        #expect(list["items"]?[2]?["group_hash"]?.stringValue == "7f8154fe")
    }
}
