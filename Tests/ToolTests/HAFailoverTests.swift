import Foundation
import Testing

/// Master failover on a real etcd (docs/HA.md): real masters and workers on loopback, killed,
/// resigned and cut off from etcd; what the workers, the agent store and the trees show after.
@Suite(.serialized) struct HAFailoverTests {
    static let ttl = 4.0

    /// A cluster of masters under failover and their workers.
    final class Cluster: @unchecked Sendable {
        let h: ClusterHarness
        let etcd: EtcdCluster
        /// Each master's cluster port and metrics port.
        var ports: [String: (cluster: Int, metrics: Int)] = [:]
        let masters: [String]
        let ttl: Double

        init(_ label: String, masters: [String] = ["master-a", "master-b"], etcdMembers: Int = 1, ttl: Double = HAFailoverTests.ttl) throws {
            self.ttl = ttl
            h = try ClusterHarness(label)
            etcd = try EtcdCluster(in: h.dir, members: etcdMembers)
            self.masters = masters
            for m in masters { ports[m] = (try MetricsTests.freePort(), try MetricsTests.freePort()) }
        }

        func stopAll() {
            h.stopAll()
            etcd.stopAll()
        }

        var masterAddresses: [String] { masters.map { "127.0.0.1:\(ports[$0]!.cluster)" } }

        func writeMaster(_ name: String, etcd endpoints: [String]? = nil, files: [String: String] = [:]) throws {
            let p = ports[name]!
            try h.writeConfig(name, type: "master", extra: [
                "node": ["port": p.cluster],
                "ha": ["etcd": endpoints ?? etcd.endpoints, "lease_ttl": ttl],
                "metrics": ["listen": "127.0.0.1:\(p.metrics)"],
            ])
            try ClusterSyncTests.write(h.root(name), files)
        }

        /// Starts a master (JSON logs, whose times tell when it served) and waits until it has
        /// taken a side: leader or follower.
        func startMaster(_ name: String, etcd endpoints: [String]? = nil, files: [String: String]? = nil) async throws {
            if !FileManager.default.fileExists(atPath: h.configPath(name)) || endpoints != nil {
                try writeMaster(name, etcd: endpoints, files: files ?? [:])
            }
            try h.start(name, tool: "cl-master", extraArgs: ["--log-format", "json"])
            try await h.waitUntil("\(name) to take a side", timeout: 30) { ["leader", "follower"].contains(role(name)) }
        }

        /// master-a with `files`, leading, then master-b following (its files come from master-a).
        func startLeaderAndFollower(files: [String: String]) async throws {
            try await startMaster("master-a", files: files)
            try await h.waitUntil("master-a leads") { role("master-a") == "leader" }
            try await startMaster("master-b")
        }

        func startWorker(_ name: String, viaEtcd: Bool = true) throws {
            var extra: [String: Any] = ["node": ["master": masterAddresses]]
            if viaEtcd { extra["ha"] = ["etcd": etcd.endpoints] }
            try h.writeConfig(name, type: "worker", extra: extra)
            try h.start(name, tool: "cl-worker", extraArgs: ["--log-format", "json"])
        }

        /// `cl-master ha status` of `name`'s configuration.
        func status(_ name: String) -> [String: Any]? {
            guard let r = try? ToolRunner.shell("cl-master ha status -c '\(h.configPath(name))'"), r.status == 0 else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any]
        }

        /// The running master's own role (nil when it does not answer).
        func role(_ name: String) -> String? {
            (status(name)?["local"] as? [String: Any])?["role"] as? String
        }

        /// `/healthz` of a master: 200 serving, 503 not, 0 nothing answering.
        func health(_ name: String) -> Int { (try? MetricsTests.http("http://127.0.0.1:\(ports[name]!.metrics)/healthz").status) ?? 0 }

        func leader() -> String? {
            masters.first { health($0) == 200 }
        }

        /// The workers a master has registered.
        func workers(of master: String) -> Set<String> { Set(h.connectedWorkers(master: master)) }

        func agentCount(_ master: String) -> Int {
            (try? h.query("cl-master", ["agents", "list", "--limit", "0"], node: master) as? [String: Any])?["totalItems"] as? Int ?? -1
        }

        /// The times (seconds since 1970) at which a node's JSON log says `text`.
        func logTimes(_ node: String, _ text: String) -> [Double] {
            h.stderr(node).split(separator: "\n").compactMap { line -> Double? in
                guard line.contains(text), let data = line.data(using: .utf8),
                      let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let t = o["time"] as? String else { return nil }
                return Self.parseTime(t)
            }
        }

        static func parseTime(_ s: String) -> Double? {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.date(from: s)?.timeIntervalSince1970
        }
    }

    static let files: [String: String] = [
        "etc/shared/default/agent.conf": "<agent_config>\n</agent_config>\n",
        "etc/rules/local_rules.xml": "<group name=\"local\"></group>\n",
        "etc/decoders/local_decoder.xml": "<decoder name=\"local\"></decoder>\n",
        "etc/lists/audit-keys": "key:value\n",
    ]

    static func now() -> Double { Date().timeIntervalSince1970 }

    @Test func aKilledLeaderIsReplacedWithinTheLeaseAndNoWorkerFileOrAgentIsLost() async throws {
        let c = try Cluster("ha-kill")
        defer { c.stopAll() }
        // Files only on the leader: the follower is a hot standby and takes them.
        try await c.startLeaderAndFollower(files: Self.files)
        #expect(c.role("master-b") == "follower")
        #expect(c.health("master-a") == 200)
        #expect(c.health("master-b") == 503, "a follower's /healthz says it is not serving")
        // The leader gauge, on a scrape promtool accepts.
        for (m, want) in [("master-a", 1.0), ("master-b", 0.0)] {
            let scrape = try MetricsTests.http("http://127.0.0.1:\(c.ports[m]!.metrics)/metrics").body
            #expect(MetricsTests.samples(scrape)["clustertools_ha_leader"] == want, "\(m)")
            let check = try ToolRunner.shell("promtool check metrics", stdin: Array(scrape.utf8))
            #expect(check.status == 0, "\(check.stdoutText) \(check.stderr)")
        }
        let st = try #require(c.status("master-b"))
        #expect(st["leader"] as? String == "master-a")
        #expect((st["masters"] as? [[String: Any]])?.map { $0["node"] as? String } == ["master-a", "master-b"])

        let workers = ["worker-1", "worker-2", "worker-3"]
        for (i, w) in workers.enumerated() {
            // The second worker finds the leader through its list alone, without etcd.
            try c.startWorker(w, viaEtcd: i != 1)
            let lines = (1...100).map { AgentSyncTests.agentLine(i * 1000 + $0) }
            let r = try await blocking { try c.h.agents(w, "upsert", stdin: lines) }
            #expect(r.status == 0, "\(r.stderr)")
        }
        try await c.h.waitUntil("three workers on master-a", timeout: 30) { c.workers(of: "master-a") == Set(workers) }
        try await c.h.waitUntil("300 agents on master-a", timeout: 30) { c.agentCount("master-a") == 300 }
        let want = ClusterSyncTests.tree(c.h.root("master-a"))
        try await c.h.waitUntil("the workers synced", timeout: 30) { workers.allSatisfy { ClusterSyncTests.tree(c.h.root($0)) == want } }
        try await c.h.waitUntil("the follower's tree equals the leader's", timeout: 30) { ClusterSyncTests.tree(c.h.root("master-b")) == want }
        // ha status: the leader tells how far behind its follower is; the follower, its link.
        try await c.h.waitUntil("the follower's lag in ha status", timeout: 30) {
            let local = c.status("master-a")?["local"] as? [String: Any]
            let f = (local?["followers"] as? [[String: Any]])?.first
            let link = (c.status("master-b")?["local"] as? [String: Any])?["standby"] as? [String: Any]
            return f?["node"] as? String == "master-b" && (f?["last_check_end"] as? String).map { $0 != "n/a" && !$0.isEmpty } == true
                && link?["connected"] as? Bool == true && link?["last_in_sync"] is String
        }
        let listed = (try c.h.query("cl-master", ["nodes"], node: "master-a") as? [String: Any])?["items"] as? [[String: Any]]
        let follower = listed?.first { $0["name"] as? String == "master-b" }
        #expect(follower?["type"] as? String == "master" && follower?["ha"] as? String == "follower", "\(String(describing: follower))")
        // Agent groups set on the leader reach the follower's store too.
        let groups = try await blocking { try ToolRunner.shell("cl-master agents set-groups 1 2001 --groups default,web -c '\(c.h.configPath("master-a"))'") }
        #expect(groups.status == 0, "\(groups.stderr)")
        try await c.h.waitUntil("the groups on the follower", timeout: 30) {
            let rows = (try? c.h.agentList("master-b", ["--select", "group"])) ?? []
            return rows.filter { ($0["group"] as? [String]) == ["default", "web"] }.count == 2
        }
        // cluster.nodes marks the leader.
        let nodes = try c.h.query("cl-master", ["nodes"], node: "master-a") as? [String: Any]
        let me = (nodes?["items"] as? [[String: Any]])?.first { $0["name"] as? String == "master-a" }
        #expect(me?["ha"] as? String == "leader")
        let standbyRows = c.agentCount("master-b")
        #expect(standbyRows < 300, "the follower holds the leader's groups, not its agent rows: the workers push them after the failover (\(standbyRows))")

        // kill -9 the leader.
        let killedAt = Self.now()
        kill(c.h.pid("master-a")!, SIGKILL)
        try await c.h.waitUntil("master-b serving", timeout: Self.ttl + 10) { c.health("master-b") == 200 }
        let servingAfter = Self.now() - killedAt
        #expect(servingAfter <= Self.ttl + 5, "the follower served \(servingAfter) s after the kill")
        #expect(c.role("master-b") == "leader")
        // Promotion says how current the tree was and what the store holds.
        let promoted = c.h.stderr("master-b").split(separator: "\n").first { $0.contains("Promoted") }.map(String.init) ?? ""
        #expect(promoted.contains("the tree was last equal to the old leader's") && promoted.contains("agent store holds"), "\(promoted)")
        // Every worker reconnects, pushes all of its agents again, and syncs with the new leader:
        // a file changed there reaches them.
        try await c.h.waitUntil("three workers on master-b", timeout: 30) { c.workers(of: "master-b") == Set(workers) }
        try await c.h.waitUntil("every agent row on master-b", timeout: 30) { c.agentCount("master-b") == 300 }
        try ClusterSyncTests.write(c.h.root("master-b"), ["etc/lists/after-failover": "new\n"])
        let want2 = ClusterSyncTests.tree(c.h.root("master-b"))
        try await c.h.waitUntil("the workers synced with master-b", timeout: 30) {
            workers.allSatisfy { ClusterSyncTests.tree(c.h.root($0)) == want2 }
        }
        let reconnected = Self.now() - killedAt
        for w in workers {
            #expect(c.logTimes(w, "Connected to a different master than before (master-b@").count == 1, "\(w) pushed its agents to the new master: \(c.h.stderr(w).split(separator: "\n").filter { $0.contains("aster") }.suffix(6))")
        }

        // The old leader comes back as a follower, and no worker notices.
        let connects = workers.map { c.logTimes($0, "Connected to the master").count }
        try await c.startMaster("master-a")
        #expect(c.role("master-a") == "follower")
        #expect(c.health("master-a") == 503)
        try await Task.sleep(for: .seconds(Self.ttl))
        #expect(c.role("master-b") == "leader")
        #expect(workers.map { c.logTimes($0, "Connected to the master").count } == connects)
        #expect(c.workers(of: "master-b") == Set(workers))
        print("ha-kill: follower serving \(String(format: "%.2f", servingAfter)) s and every worker synced \(String(format: "%.2f", reconnected)) s after kill -9 (lease \(Self.ttl) s)")
    }

    @Test func resignAndSIGTERMHandOverAtOnceWithOneReconnect() async throws {
        let c = try Cluster("ha-resign")
        defer { c.stopAll() }
        try await c.startLeaderAndFollower(files: Self.files)
        try c.startWorker("worker-1")
        try await c.h.waitUntil("the worker on master-a", timeout: 30) { c.workers(of: "master-a") == ["worker-1"] }

        // Resign on a follower is refused.
        let refused = try ToolRunner.shell("cl-master ha resign -c '\(c.h.configPath("master-b"))'")
        #expect(refused.status == 69, "\(refused.stderr)")
        #expect(refused.stderr.contains("not the leader"))

        let before = c.logTimes("worker-1", "Connected to the master").count
        let resignAt = Self.now()
        let r = try ToolRunner.shell("cl-master ha resign -c '\(c.h.configPath("master-a"))'")
        #expect(r.status == 0, "\(r.stderr)")
        try await c.h.waitUntil("master-b leads", timeout: Self.ttl + 5) { c.health("master-b") == 200 }
        let handOver = Self.now() - resignAt
        #expect(handOver < Self.ttl, "a resignation needs no lease to expire: \(handOver) s")
        try await c.h.waitUntil("the worker on master-b", timeout: 30) { c.workers(of: "master-b") == ["worker-1"] }
        #expect(c.logTimes("worker-1", "Connected to the master").count == before + 1, "one reconnect")
        #expect(c.role("master-a") == "follower")

        // SIGTERM on the leader hands over the same way.
        let stopAt = Self.now()
        c.h.stop("master-b")
        try await c.h.waitUntil("master-a leads again", timeout: Self.ttl + 5) { c.health("master-a") == 200 }
        #expect(Self.now() - stopAt < Self.ttl, "a stopping leader resigns")
        try await c.h.waitUntil("the worker on master-a", timeout: 30) { c.workers(of: "master-a") == ["worker-1"] }
        #expect(c.h.stderr("master-b").contains("Resigned leadership"))
    }

    @Test func aLeaderThatLosesEtcdStopsServingBeforeItsLeaseCanExpireAndServiceResumesWithEtcd() async throws {
        let c = try Cluster("ha-fence")
        defer { c.stopAll() }
        try await c.startLeaderAndFollower(files: Self.files)
        try c.startWorker("worker-1")
        let want = ClusterSyncTests.tree(c.h.root("master-a"))
        try await c.h.waitUntil("the worker synced", timeout: 30) { ClusterSyncTests.tree(c.h.root("worker-1")) == want }

        let lostAt = Self.now()
        c.etcd.stop(0, hard: true)
        try await c.h.waitUntil("master-a steps down", timeout: Self.ttl) { c.health("master-a") != 200 }
        let stepDown = try #require(c.logTimes("master-a", "stepping down").first)
        #expect(stepDown - lostAt < Self.ttl, "stopped serving \(stepDown - lostAt) s after etcd was lost, inside the \(Self.ttl) s lease")
        // With etcd gone no master serves; the worker keeps its files.
        for _ in 0..<Int(Self.ttl * 2) {
            #expect(c.leader() == nil)
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(ClusterSyncTests.tree(c.h.root("worker-1")) == want)
        #expect(c.h.stderr("master-a").contains("no lease renewal confirmed by etcd"))
        // cl-master health says why the master is not serving.
        let health = try c.h.query("cl-master", ["health"], node: "master-a") as? [String: Any]
        let ha = health?["ha"] as? [String: Any]
        #expect(ha?["role"] as? String == "follower" && ha?["serving"] as? Bool == false)
        #expect((ha?["note"] as? String)?.contains("etcd") == true, "\(String(describing: ha))")
        let table = try ToolRunner.shell("cl-master health --table -c '\(c.h.configPath("master-a"))'")
        #expect(table.stdoutText.contains("Failover: follower ("), "\(table.stdoutText)")

        try c.etcd.start(0)
        try await c.h.waitUntil("a master serves again", timeout: Self.ttl * 3 + 10) { c.leader() != nil }
        let leader = try #require(c.leader())
        try await c.h.waitUntil("the worker back", timeout: 30) { c.workers(of: leader) == ["worker-1"] }
    }

    @Test func losingOneOfThreeEtcdMembersChangesNothingAndLosingQuorumStopsEveryMasterUntilItReturns() async throws {
        // The default lease: its half (5 s) must outlast an etcd leader election (about 1 s here)
        // when the member killed is etcd's own leader.
        let ttl = 10.0
        let c = try Cluster("ha-quorum", etcdMembers: 3, ttl: ttl)
        defer { c.stopAll() }
        try await c.startLeaderAndFollower(files: Self.files)
        try c.startWorker("worker-1")
        let want = ClusterSyncTests.tree(c.h.root("master-a"))
        try await c.h.waitUntil("the worker synced", timeout: 30) { ClusterSyncTests.tree(c.h.root("worker-1")) == want }
        // etcd's view (ha status asks etcd: a call can time out while a loaded machine settles).
        var term = 0
        try await c.h.waitUntil("the leader's term in ha status", timeout: 30) {
            term = (c.status("master-a")?["masters"] as? [[String: Any]])?.first?["term"] as? Int ?? 0
            return term > 0
        }

        // One member of three down, etcd's own leader (the worst one to lose): etcd elects
        // another and keeps its quorum, and nothing changes.
        let first = try #require(try c.etcd.raftLeader())
        c.etcd.stop(first, hard: true)
        try await Task.sleep(for: .seconds(ttl * 2))
        #expect(c.health("master-a") == 200 && c.health("master-b") == 503)
        var termNow = 0
        try await c.h.waitUntil("ha status again", timeout: 30) {
            termNow = (c.status("master-a")?["masters"] as? [[String: Any]])?.first?["term"] as? Int ?? 0
            return termNow > 0
        }
        #expect(termNow == term, "no new election")
        #expect(c.logTimes("master-a", "Stopped serving workers").isEmpty,
                "\(c.h.stderr("master-a").split(separator: "\n").filter { $0.contains("\"HA\"") }.suffix(8).joined(separator: "\n"))")

        // Two down: no quorum. The leader steps down inside its lease and no master serves.
        let lostAt = Self.now()
        let second = (first + 1) % 3
        c.etcd.stop(second, hard: true)
        try await c.h.waitUntil("master-a steps down", timeout: ttl) { c.health("master-a") != 200 }
        #expect((c.logTimes("master-a", "Stopped serving workers").first ?? .infinity) - lostAt < ttl)
        for _ in 0..<Int(ttl * 2) {
            #expect(c.leader() == nil)
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(ClusterSyncTests.tree(c.h.root("worker-1")) == want, "the worker keeps its files")

        // Quorum back: service resumes, and the worker is served again.
        try c.etcd.start(first)
        try c.etcd.start(second)
        try await c.h.waitUntil("a master serves again", timeout: ttl * 3 + 15) { c.leader() != nil }
        let leader = try #require(c.leader())
        try await c.h.waitUntil("the worker back", timeout: 30) { c.workers(of: leader) == ["worker-1"] }
        #expect(ClusterSyncTests.tree(c.h.root("worker-1")) == ClusterSyncTests.tree(c.h.root(leader)))
    }

    /// The HAProxy configuration of docs/ha/haproxy.cfg, with this test's addresses.
    static func haproxyConfig(frontend: Int, masters: [(cluster: Int, metrics: Int)]) throws -> String {
        var text = try String(contentsOf: ToolRunner.packageRoot.appendingPathComponent("docs/ha/haproxy.cfg"), encoding: .utf8)
        text = text.replacingOccurrences(of: "bind 0.0.0.0:1516", with: "bind 127.0.0.1:\(frontend)")
        for (i, m) in masters.enumerated() {
            text = text.replacingOccurrences(of: "server master-\(i + 1) 10.0.0.\(i + 1):1516 check port 9516",
                                             with: "server master-\(i + 1) 127.0.0.1:\(m.cluster) check port \(m.metrics)")
        }
        return text
    }

    @Test func aSingleAddressWorkerBehindTheDocumentedHAProxyKeepsSyncingAcrossAFailover() async throws {
        let c = try Cluster("ha-proxy")
        defer { c.stopAll() }
        let frontend = try MetricsTests.freePort()
        let config = try Self.haproxyConfig(frontend: frontend, masters: c.masters.map { c.ports[$0]! })
        #expect(!config.contains("10.0.0."), "every server of the documented file was given this test's address")
        let cfg = c.h.dir.appendingPathComponent("haproxy.cfg")
        try Data(config.utf8).write(to: cfg)
        let check = try ToolRunner.shell("haproxy -c -f '\(cfg.path)'")
        #expect(check.status == 0, "\(check.stdoutText)\(check.stderr)")
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: "/usr/sbin/haproxy")
        proxy.arguments = ["-db", "-f", cfg.path]
        let log = c.h.dir.appendingPathComponent("haproxy.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        proxy.standardOutput = try FileHandle(forWritingTo: log)
        proxy.standardError = proxy.standardOutput
        try proxy.run()
        defer { kill(proxy.processIdentifier, SIGTERM); proxy.waitUntilExit() }

        try await c.startLeaderAndFollower(files: Self.files)
        // The reference's way: one master address (HAProxy's), no etcd.
        try c.h.writeConfig("worker-1", type: "worker", master: frontend)
        try c.h.start("worker-1", tool: "cl-worker", extraArgs: ["--log-format", "json"])
        let want = ClusterSyncTests.tree(c.h.root("master-a"))
        try await c.h.waitUntil("the worker synced through HAProxy", timeout: 30) { ClusterSyncTests.tree(c.h.root("worker-1")) == want }
        #expect(c.workers(of: "master-a") == ["worker-1"])

        kill(c.h.pid("master-a")!, SIGKILL)
        try await c.h.waitUntil("the worker on master-b through HAProxy", timeout: Self.ttl + 20) { c.workers(of: "master-b") == ["worker-1"] }
        try ClusterSyncTests.write(c.h.root("master-b"), ["etc/lists/through-the-proxy": "b\n"])
        let want2 = ClusterSyncTests.tree(c.h.root("master-b"))
        try await c.h.waitUntil("the worker synced with master-b", timeout: 30) { ClusterSyncTests.tree(c.h.root("worker-1")) == want2 }
    }
}
