import Foundation
import Testing

/// Agent-info (worker → master) and agent-groups (master → workers) between real cl-master and
/// cl-worker processes, on real SQLite files.
@Suite(.serialized) struct AgentSyncTests {
    /// Short intervals: changes are pushed within 0.2 s, deltas go out every 0.3 s, and three
    /// checksum mismatches ask for a full sync.
    static var intervals: [String: Any] { ["intervals": [
        "worker": ["sync_agent_info": 0.5, "agent_info_change_delay": 0.2, "agent_groups_mismatch_limit": 3],
        "master": ["agent_group_start_delay": 0.3, "sync_agent_groups": 0.3],
    ]] }

    static func agentLine(_ id: Int, name: String? = nil, status: String = "active", keepalive: Int = 1_700_000_000) -> String {
        #"{"id":"\#(String(format: "%03d", id))","name":"\#(name ?? "agent-\(id)")","ip":"10.1.\#(id / 250).\#(id % 250)","os_name":"Ubuntu","os_platform":"ubuntu","version":"Wazuh v4.9.2","connection_status":"\#(status)","last_keepalive":\#(keepalive),"labels":{"env":"test"}}"#
    }

    @Test func agentsFromTwoWorkersReachTheMasterWithTheirNode() async throws {
        let h = try ClusterHarness("ag-two")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        try await blocking { try h.startWorker("worker-1", masterPort: port, extra: Self.intervals) }
        try await blocking { try h.startWorker("worker-2", masterPort: port, extra: Self.intervals) }
        try await blocking { try await h.waitUntil("both workers connected") { h.connectedWorkers().sorted() == ["worker-1", "worker-2"] } }

        let r1 = try await blocking { try h.agents("worker-1", "upsert", stdin: (1...50).map { Self.agentLine($0, status: $0 <= 40 ? "active" : "disconnected") }) }
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(try JSONSerialization.jsonObject(with: Data(r1.stdout)) as? NSDictionary == ["upserted": 50, "failed": 0, "errors": []])
        let r2 = try await blocking { try h.agents("worker-2", "upsert", stdin: (101...130).map { Self.agentLine($0) }) }
        #expect(r2.status == 0, "\(r2.stderr)")

        try await blocking { try await h.waitUntil("80 agents on the master") { try h.agentList("master-node", ["--select", "node_name"]).count == 80 } }
        let byNode = try await blocking { try h.agentList("master-node", ["--select", "node_name"]) }
        #expect(byNode.filter { $0["node_name"] as? String == "worker-1" }.count == 50)
        #expect(byNode.filter { $0["node_name"] as? String == "worker-2" }.count == 30)
        let first = try #require(try await blocking { try h.agentList("master-node", ["--nodes", "worker-1", "--limit", "1"]) }.first)
        #expect(first["id"] as? String == "001" && first["name"] as? String == "agent-1" && first["ip"] as? String == "10.1.0.1")
        #expect(first["labels"] as? NSArray == [["key": "env", "value": "test"]])
        // The worker marks its rows synced once the master has confirmed them.
        try await blocking { try await h.waitUntil("worker-1's rows confirmed") {
            try h.agentList("worker-1", ["--select", "sync_status"]).allSatisfy { $0["sync_status"] as? String == "synced" }
        } }

        // Health: active agents per node, and the agent-info dates and chunk counts.
        try await blocking { try await h.waitUntil("active agents in health") {
            let nodes = (try h.query("cl-master", ["health"], node: "master-node") as? [String: Any])?["nodes"] as? [String: Any]
            func active(_ n: String) -> Int? { ((nodes?[n] as? [String: Any])?["info"] as? [String: Any])?["n_active_agents"] as? Int }
            return active("worker-1") == 40 && active("worker-2") == 30 && active("master-node") == 0
        } }
        let health = try await blocking { try h.query("cl-master", ["health"], node: "master-node") as! [String: Any] }
        let w1 = ((health["nodes"] as! [String: Any])["worker-1"] as! [String: Any])["status"] as! [String: Any]
        let info = w1["last_sync_agentinfo"] as! [String: Any]
        #expect(info["date_end_master"] as? String != "n/a" && (info["n_synced_chunks"] as? Int ?? 0) >= 1)
        #expect(w1["sync_agent_info_free"] as? Bool == true)

        // Changes and removals follow.
        let change = try await blocking { try h.agents("worker-1", "upsert", stdin: [#"{"id":"001","name":"renamed","connection_status":"disconnected"}"#]) }
        #expect(change.status == 0, "\(change.stderr)")
        let removal = try await blocking { try h.agents("worker-2", "remove", args: ["101", "102"]) }
        #expect(removal.status == 0, "\(removal.stderr)")
        try await blocking { try await h.waitUntil("the change and the removals on the master") {
            let all = try h.agentList("master-node", ["--select", "name,connection_status"])
            let one = all.first { $0["id"] as? String == "001" }
            return all.count == 78 && one?["name"] as? String == "renamed" && one?["connection_status"] as? String == "disconnected"
                && !all.contains { $0["id"] as? String == "101" }
        } }
        // Unchanged fields were kept.
        let renamed = try #require(try await blocking { try h.agentList("master-node", ["--nodes", "worker-1", "--limit", "1"]) }.first)
        #expect(renamed["ip"] as? String == "10.1.0.1" && renamed["last_keepalive"] as? Int == 1_700_000_000)

        // Filters, sort, offset and limit on the master.
        let page = try await blocking { try h.query("cl-master", ["agents", "list", "--status", "active", "--sort=-id", "--offset", "1", "--limit", "2", "--select", "name"],
                               node: "master-node") as! [String: Any] }
        #expect(page["totalItems"] as? Int == 67)
        #expect(page["items"] as? NSArray == [["id": "129", "name": "agent-129"], ["id": "128", "name": "agent-128"]])
    }

    /// SIGKILL the master while a worker's push is under way, start it again on the same port:
    /// the worker sends the push again and every agent arrives.
    @Test func masterStoppedInTheMiddleOfAPushLosesNothing() async throws {
        let h = try ClusterHarness("ag-restart")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        // The agents land before the worker starts, so its first push carries all of them.
        let count = 20_000
        try await blocking { try h.writeConfig("worker-1", type: "worker", master: port, extra: Self.intervals) }
        let upsert = try await blocking { try h.agents("worker-1", "upsert", stdin: (1...count).map { Self.agentLine($0) }) }
        #expect(upsert.status == 0, "\(upsert.stderr)")
        try await blocking { try h.start("worker-1", tool: "cl-worker") }
        try await blocking { try await h.waitForLog("worker-1", containing: "[Agent-info sync] Starting.", timeout: 30) }
        await blocking { h.stop("master-node", signal: SIGKILL) }
        let masterLogAtKill = h.log("master-node")
        #expect(!masterLogAtKill.contains("[Agent-info sync] Finished"), "the push was complete before the kill")

        try await blocking { try await h.restartMaster(port: port, extra: Self.intervals) }
        try await blocking { try await h.waitUntil("\(count) agents on the master after the restart", timeout: 90) {
            (try h.query("cl-master", ["agents", "list", "--limit", "0"], node: "master-node") as? [String: Any])?["totalItems"] as? Int == count
        } }
        try await blocking { try await h.waitUntil("every row confirmed on the worker", timeout: 30) {
            try h.agentList("worker-1", ["--select", "sync_status"]).allSatisfy { $0["sync_status"] as? String == "synced" }
        } }
        let starts = h.log("worker-1").components(separatedBy: "[Agent-info sync] Starting.").count - 1
        #expect(starts >= 2, "the worker did not push again")
        #expect(h.log("master-node").contains("[Agent-info sync] Finished"))
    }

    /// A backlog larger than one push (8 MiB of rows) goes in several, one after another, and
    /// every row arrives and is confirmed.
    @Test func aBacklogGoesInBoundedPushes() async throws {
        let h = try ClusterHarness("ag-backlog")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        try await blocking { try h.writeConfig("worker-1", type: "worker", master: port, extra: Self.intervals) }
        let count = 40_000
        let upsert = try await blocking { try h.agents("worker-1", "upsert", stdin: (1...count).map { Self.agentLine($0) }) }
        #expect(upsert.status == 0, "\(upsert.stderr)")
        let once = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-1"))'") }
        #expect(once.status == 0, "\(once.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(once.stdout)) as! [String: Any]
        #expect(report["agents"] as? Int == count && report["granted"] as? Bool == true, "\(report)")
        let pushes = h.log("master-node").components(separatedBy: "[Agent-info sync] Finished").count - 1
        #expect(pushes >= 2, "one push carried everything")
        #expect((try h.query("cl-master", ["agents", "list", "--limit", "0"], node: "master-node") as? [String: Any])?["totalItems"] as? Int == count)
        #expect(try await blocking { try h.agentList("worker-1", ["--select", "sync_status"]) }.allSatisfy { $0["sync_status"] as? String == "synced" })
        let again = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-1"))'") }
        #expect((try JSONSerialization.jsonObject(with: Data(again.stdout)) as? [String: Any])?["agents"] as? Int == 0)
    }

    /// A push with an older last_keepalive does not overwrite what the master holds; pushes run
    /// one at a time from cron with `sync agent-info --once`.
    @Test func anOlderRecordDoesNotOverwriteANewerOne() async throws {
        let h = try ClusterHarness("ag-stale")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        try await blocking { try h.writeConfig("worker-1", type: "worker", master: port, extra: Self.intervals) }
        try await blocking { try h.writeConfig("worker-2", type: "worker", master: port, extra: Self.intervals) }

        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: [Self.agentLine(7, name: "newer", keepalive: 2000)]) }.status == 0)
        let once1 = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-1"))'") }
        #expect(once1.status == 0, "\(once1.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(once1.stdout)) as! [String: Any]
        #expect(report["agents"] as? Int == 1 && report["updated_chunks"] as? Int == 1 && report["granted"] as? Bool == true)

        #expect(try await blocking { try h.agents("worker-2", "upsert", stdin: [Self.agentLine(7, name: "older", keepalive: 1000)]) }.status == 0)
        let once2 = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-2"))'") }
        #expect(once2.status == 0, "a stale row is not an error: \(once2.stderr)")

        let seven = try #require(try await blocking { try h.agentList("master-node", []) }.first)
        #expect(seven["name"] as? String == "newer" && seven["node_name"] as? String == "worker-1" && seven["last_keepalive"] as? Int == 2000)
        // Both workers consider their row delivered: nothing is pending, nothing will be resent.
        #expect(try await blocking { try h.agentList("worker-2", ["--select", "sync_status"]) }.first?["sync_status"] as? String == "synced")
        let again = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-2"))'") }
        #expect((try JSONSerialization.jsonObject(with: Data(again.stdout)) as? [String: Any])?["agents"] as? Int == 0)

        // A newer keepalive from worker-2 moves the agent there.
        #expect(try await blocking { try h.agents("worker-2", "upsert", stdin: [Self.agentLine(7, name: "moved", keepalive: 3000)]) }.status == 0)
        #expect(try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-2"))'") }.status == 0)
        let moved = try #require(try await blocking { try h.agentList("master-node", []) }.first)
        #expect(moved["name"] as? String == "moved" && moved["node_name"] as? String == "worker-2")

        // Bad lines are reported by number; the good ones land; the exit status says some failed.
        let mixed = try await blocking { try h.agents("worker-1", "upsert", stdin: [
            Self.agentLine(20), "{not json", #"{"id":"021","name":"x","colour":"red"}"#, #"{"id":"022","name":"y","group":["g"]}"#, Self.agentLine(23),
        ]) }
        #expect(mixed.status == 65)
        let summary = try JSONSerialization.jsonObject(with: Data(mixed.stdout)) as! [String: Any]
        #expect(summary["upserted"] as? Int == 2 && summary["failed"] as? Int == 3)
        #expect((summary["errors"] as? [[String: Any]])?.compactMap { $0["line"] as? Int } == [2, 3, 4])
        #expect(errorLine(mixed.stderr)?["exit"] as? Int == 65)
        let ids = try await blocking { try h.agentList("worker-1", ["--select", "name"]) }.compactMap { $0["id"] as? String }
        #expect(ids == ["007", "020", "023"])
        let unknown = try await blocking { try h.agents("worker-1", "remove", args: ["020", "404"]) }
        #expect(unknown.status == 65)
        #expect((try JSONSerialization.jsonObject(with: Data(unknown.stdout)) as? [String: Any])?["removed"] as? Int == 1)

        // Exit statuses: master gone 69, usage 64.
        await blocking { h.stop("master-node") }
        let down = try await blocking { try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath("worker-1"))'") }
        #expect(down.status == 69, "\(down.stderr)")
        // One push is the only mode: without --once the same (69); an unknown option is a usage error.
        #expect(try await blocking { try ToolRunner.shell("cl-worker sync agent-info -c '\(h.configPath("worker-1"))'") }.status == 69)
        #expect(try await blocking { try ToolRunner.shell("cl-worker sync agent-info --bogus -c '\(h.configPath("worker-1"))'") }.status == 64)
    }

    /// Holes 1 and 4 (issue 11) between real processes: a worker that reports another worker's
    /// agent with a keepalive in the year 2100 is refused (exit 65, the master logs it) and the
    /// agent stays with its owner; its removal of that agent is ignored; a genuinely newer
    /// keepalive still moves the agent. A local update that would leave a row past one chunk is
    /// refused by `agents upsert` (exit 65), the stored row unchanged.
    @Test func aWorkerCannotStealAnotherWorkersAgent() async throws {
        let h = try ClusterHarness("ag-steal")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        try await blocking { try h.writeConfig("worker-1", type: "worker", master: port, extra: Self.intervals) }
        try await blocking { try h.writeConfig("worker-2", type: "worker", master: port, extra: Self.intervals) }
        func once(_ node: String) throws -> ToolRunner.Result {
            try ToolRunner.shell("cl-worker sync agent-info --once -c '\(h.configPath(node))'")
        }
        func seven() throws -> [String: Any]? { try h.agentList("master-node", []).first { $0["id"] as? String == "007" } }
        let now = Int(Date().timeIntervalSince1970)

        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: [Self.agentLine(7, name: "real", keepalive: now - 10)]) }.status == 0)
        #expect(try await blocking { try once("worker-1") }.status == 0)
        #expect(try await blocking { try seven() }?["node_name"] as? String == "worker-1")

        // The thief: a keepalive in 2100. Refused and reported; the agent stays with worker-1.
        #expect(try await blocking { try h.agents("worker-2", "upsert", stdin: [Self.agentLine(7, name: "stolen", keepalive: 4_102_444_800)]) }.status == 0)
        let theft = try await blocking { try once("worker-2") }
        #expect(theft.status == 65, "\(theft.stdout) \(theft.stderr)")
        let theftText = String(decoding: theft.stdout, as: UTF8.self) + theft.stderr
        #expect(theftText.contains("ahead of the master's clock"), "\(theftText)")
        try await h.waitForLog("master-node", containing: "ahead of this clock")
        var row = try #require(try await blocking { try seven() })
        #expect(row["name"] as? String == "real" && row["node_name"] as? String == "worker-1")
        // Its removal of an agent it does not own is ignored.
        #expect(try await blocking { try h.agents("worker-2", "remove", args: ["007"]) }.status == 0)
        _ = try await blocking { try once("worker-2") }
        row = try #require(try await blocking { try seven() })
        #expect(row["node_name"] as? String == "worker-1")
        // The owner's updates still apply.
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: [Self.agentLine(7, name: "real-2", keepalive: now)]) }.status == 0)
        #expect(try await blocking { try once("worker-1") }.status == 0)
        #expect(try await blocking { try seven() }?["name"] as? String == "real-2")
        // A genuinely newer keepalive moves the agent to worker-2.
        #expect(try await blocking { try h.agents("worker-2", "upsert", stdin: [Self.agentLine(7, name: "moved", keepalive: now + 5)]) }.status == 0)
        #expect(try await blocking { try once("worker-2") }.status == 0)
        row = try #require(try await blocking { try seven() })
        #expect(row["name"] as? String == "moved" && row["node_name"] as? String == "worker-2")

        // Hole 4: each update fits, the row they would leave does not.
        let big = #"{"id":"008","name":"big","os_uname":"\#(String(repeating: "u", count: 40_000))"}"#
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: [big]) }.status == 0)
        let more = #"{"id":"008","os_build":"\#(String(repeating: "b", count: 30_000))"}"#
        let refused = try await blocking { try h.agents("worker-1", "upsert", stdin: [more]) }
        #expect(refused.status == 65, "\(refused.stderr)")
        #expect(String(decoding: refused.stdout, as: UTF8.self).contains("bytes of JSON"), "\(refused.stderr)")
        let eight = try #require(try await blocking { try h.agentList("worker-1", ["--select", "os_build"]) }.first { $0["id"] as? String == "008" })
        #expect(eight["os_build"] == nil)
    }

    @Test func groupsReachEveryWorkerAndATamperedWorkerRecovers() async throws {
        let h = try ClusterHarness("ag-groups")
        defer { h.stopAll() }
        let port = try await blocking { try await h.startMaster(extra: Self.intervals) }
        try await blocking { try h.startWorker("worker-1", masterPort: port, extra: Self.intervals) }
        try await blocking { try h.startWorker("worker-2", masterPort: port, extra: Self.intervals) }
        try await blocking { try await h.waitUntil("both workers connected") { h.connectedWorkers().sorted() == ["worker-1", "worker-2"] } }
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: (1...3).map { Self.agentLine($0) }) }.status == 0)
        #expect(try await blocking { try h.agents("worker-2", "upsert", stdin: (11...13).map { Self.agentLine($0) }) }.status == 0)
        try await blocking { try await h.waitUntil("6 agents on the master") { try h.agentList("master-node", []).count == 6 } }

        let byArgs = try await blocking { try ToolRunner.shell("cl-master agents set-groups 001 11 --groups default,web -c '\(h.configPath("master-node"))'") }
        #expect(byArgs.status == 0, "\(byArgs.stderr)")
        let byLines = try await blocking { try ToolRunner.shell("cl-master agents set-groups -c '\(h.configPath("master-node"))'",
                                           stdin: Array(#"{"id":"002","groups":["db"]}\#n{"id":"999","groups":["x"]}\#n"#.utf8)) }
        #expect(byLines.status == 65, "an unknown agent is an error")
        #expect((try JSONSerialization.jsonObject(with: Data(byLines.stdout)) as? [String: Any])?["updated"] as? Int == 1)

        let expected: [String: [String]] = ["001": ["default", "web"], "002": ["db"], "011": ["default", "web"]]
        func groups(_ node: String) throws -> [String: [String]] {
            var out = [String: [String]]()
            for a in try h.agentList(node, ["--select", "group"]) {
                if let g = a["group"] as? [String] { out[a["id"] as! String] = g }
            }
            return out
        }
        for worker in ["worker-1", "worker-2"] {
            try await blocking { try await h.waitUntil("the groups on \(worker)") { try groups(worker) == expected } }
        }
        // Every node holds the same per-agent hashes, so the same global hash.
        let masterHashes = try await blocking { try h.agentList("master-node", ["--select", "group_hash"]).compactMap { $0["group_hash"] as? String } }
        #expect(masterHashes.count == 3)
        #expect(try await blocking { try h.agentList("worker-1", ["--select", "group_hash"]) }.compactMap { $0["group_hash"] as? String } == masterHashes)

        // Tamper with worker-2's database behind its back.
        let db = h.root("worker-2").appendingPathComponent("var/db/agents.db").path
        let tamper = try await blocking { try ToolRunner.shell("""
            python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=30); \
            c.execute("UPDATE agent SET groups = ?, group_hash = ? WHERE id = 11", ("evil", "deadbeef")); \
            c.execute("UPDATE agent SET groups = NULL, group_hash = NULL WHERE id = 2"); c.commit()' '\(db)'
            """) }
        #expect(tamper.status == 0, "\(tamper.stderr)")
        try await blocking { try await h.waitUntil("worker-2 recovered through a full sync", timeout: 60) { try groups("worker-2") == expected } }
        #expect(h.log("worker-2").contains("asking for a full sync"))
        try await blocking { try await h.waitUntil("the full sync in health") {
            let nodes = (try h.query("cl-master", ["health"], node: "master-node") as? [String: Any])?["nodes"] as? [String: Any]
            let status = (nodes?["worker-2"] as? [String: Any])?["status"] as? [String: Any]
            let full = status?["last_sync_full_agentgroup"] as? [String: Any]
            let delta = status?["last_sync_agentgroup"] as? [String: Any]
            return full?["date_end"] as? String != "n/a" && (full?["n_synced_chunks"] as? Int ?? 0) >= 1
                && delta?["date_end"] as? String != "n/a"
        } }
        // worker-1 was never touched and never needed one.
        #expect(!h.log("worker-1").contains("asking for a full sync"))
    }
}

/// Runs blocking harness work (process waits, polling with sleeps) on a dispatch thread: a test
/// that blocked a cooperative thread for its whole run would starve the async suites that run
/// alongside it (this machine has two).
@discardableResult
func blocking<T>(_ body: @escaping () throws -> T) async throws -> T {
    let job = Unchecked(body)
    let result: Unchecked<Result<T, Error>> = await withCheckedContinuation { c in
        DispatchQueue.global().async { c.resume(returning: Unchecked(Result { try job.value() })) }
    }
    return try result.value.get()
}

/// The harness's waits are async already: they run as they are.
func blocking<T>(_ body: () async throws -> T) async throws -> T { try await body() }

func blocking(_ body: @escaping () -> Void) async {
    _ = try? await blocking { () throws -> Void in body() }
}

/// Hands a value across threads when the hand-over is sequenced by an await.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension ClusterHarness {
    /// Runs `cl-worker agents <verb>` (or the master's) against `node` with JSON Lines on stdin.
    func agents(_ node: String, _ verb: String, args: [String] = [], stdin lines: [String] = []) throws -> ToolRunner.Result {
        let tool = node.hasPrefix("master") ? "cl-master" : "cl-worker"
        let input = lines.isEmpty ? [] : Array((lines.joined(separator: "\n") + "\n").utf8)
        return try ToolRunner.shell("\(tool) agents \(verb) \(args.joined(separator: " ")) -c '\(configPath(node))'", stdin: input)
    }

    /// `agents list` items on `node`.
    func agentList(_ node: String, _ args: [String]) throws -> [[String: Any]] {
        let tool = node.hasPrefix("master") ? "cl-master" : "cl-worker"
        let r = try query(tool, ["agents", "list"] + args, node: node) as? [String: Any]
        return r?["items"] as? [[String: Any]] ?? []
    }

    /// Starts the master again on `port` (after it was killed: its stale run file goes first).
    func restartMaster(_ name: String = "master-node", port: Int, extra: [String: Any]) async throws {
        var merged = extra
        merged["node"] = ["port": port]
        try writeConfig(name, type: "master", extra: merged)
        let runFile = root(name).appendingPathComponent("var/run/cl-master.json")
        try? FileManager.default.removeItem(at: runFile)
        try start(name, tool: "cl-master")
        try await waitUntil("\(name) listening again", timeout: 30) { FileManager.default.fileExists(atPath: runFile.path) }
    }
}
