import Foundation
import Testing

/// `metrics.listen`: real daemons scraped over HTTP, the text checked by Prometheus's own
/// promtool, a real Prometheus server scraping them, `/healthz`, and the alert rules and
/// dashboard in docs/monitoring checked against what the daemons really expose.
@Suite(.serialized) struct MetricsTests {
    static let monitoring = ToolRunner.packageRoot.appendingPathComponent("docs/monitoring")

    /// A loopback port free right now (the OS's choice).
    static func freePort() throws -> Int {
        let r = try ToolRunner.shell(#"python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'"#)
        guard r.status == 0, let port = Int(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessTimeout(description: "no free port: \(r.stderr)")
        }
        return port
    }

    /// An HTTP request with curl: the status (0 when nothing answered) and the body.
    static func http(_ url: String, method: String = "GET") throws -> (status: Int, body: String) {
        let r = try ToolRunner.shell("curl -s -m 10 -X \(method) -o - -w '\\n%{http_code}' '\(url)'")
        var text = r.stdoutText
        let code = text.split(separator: "\n").last.flatMap { Int($0) } ?? 0
        if let nl = text.lastIndex(of: "\n") { text = String(text[..<nl]) }
        return (code, text)
    }

    static func metricsConfig(_ port: Int) -> [String: Any] { ["metrics": ["listen": "127.0.0.1:\(port)"]] }

    /// The samples of a scrape: `name{labels}` (as written) to value.
    static func samples(_ text: String) -> [String: Double] {
        var out = [String: Double]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }

    /// The metric families a scrape declares (`# TYPE name kind`).
    static func families(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
    }

    /// Sum of the samples of `name` whose labels contain every one of `labels`.
    static func sum(_ s: [String: Double], _ name: String, _ labels: [String] = []) -> Double {
        s.filter { k, _ in
            (k == name || k.hasPrefix(name + "{")) && labels.allSatisfy { k.contains($0) }
        }.values.reduce(0, +)
    }

    static func seedMaster(_ h: ClusterHarness, _ files: [String: String]) throws {
        for (path, content) in files {
            let url = h.root("master-node").appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
        }
    }

    @Test func scrapeOfMasterAndWorkerAfterASyncPassesPromtool() async throws {
        let h = try ClusterHarness("metrics")
        defer { h.stopAll() }
        try Self.seedMaster(h, ["etc/shared/default/agent.conf": "<agent_config/>\n", "etc/lists/audit-keys": "k:v\n"])
        let mPort = try Self.freePort(), wPort = try Self.freePort()
        let port = try await h.startMaster(extra: Self.metricsConfig(mPort))
        try h.startWorker("worker-1", masterPort: port, extra: Self.metricsConfig(wPort))
        // A worker of another cluster (its hello refused) and one with the wrong key (its
        // hello does not decrypt).
        try h.startWorker("other-cluster", masterPort: port, cluster: "other")
        try h.startWorker("wrong-key", masterPort: port, key: "A_Completely_Different_Key_12345")
        let masterURL = "http://127.0.0.1:\(mPort)/metrics", workerURL = "http://127.0.0.1:\(wPort)/metrics"
        var master = "", worker = ""
        try await h.waitUntil("a sync, a refused hello and a decrypt failure counted", timeout: 60) {
            master = try Self.http(masterURL).body
            worker = try Self.http(workerURL).body
            let m = Self.samples(master), w = Self.samples(worker)
            return Self.sum(m, "clustertools_syncs_total", [#"kind="integrity_sync""#, #"outcome="ok""#]) > 0
                && Self.sum(w, "clustertools_integrity_files_total", [#"action="created""#]) >= 2
                && Self.sum(m, "clustertools_hello_refusals_total") > 0
                && Self.sum(m, "clustertools_decrypt_failures_total") > 0
        }
        let m = Self.samples(master), w = Self.samples(worker)
        #expect(m["clustertools_connected_workers"] ?? 0 >= 1)
        #expect(m[#"clustertools_worker_connected{worker="worker-1"}"#] == 1)
        #expect(w["clustertools_master_connected"] == 1)
        // Each role's own gauges only: a master has no master link, a worker no workers.
        #expect(m["clustertools_master_connected"] == nil && w["clustertools_connected_workers"] == nil)
        #expect(Self.sum(m, "clustertools_sync_duration_seconds_count", [#"kind="integrity_sync""#]) > 0)
        #expect(Self.sum(m, "clustertools_sync_duration_seconds_count", [#"kind="integrity_check""#]) > 0)
        #expect(Self.sum(m, "clustertools_last_sync_timestamp_seconds", [#"worker="worker-1""#]) > Date().timeIntervalSince1970 - 120)
        // Frames by command: the worker's hello and keepalives in at the master, its integrity
        // pushes out of the worker.
        #expect(m[#"clustertools_frames_received_total{command="hello"}"#] ?? 0 >= 1)
        #expect(m[#"clustertools_frames_received_total{command="syn_i_w_m"}"#] ?? 0 >= 1)
        #expect(w[#"clustertools_frames_sent_total{command="syn_i_w_m_p"}"#] ?? 0 >= 1)
        #expect(Self.sum(m, "clustertools_received_bytes_total") > 0)
        #expect(Self.sum(m, "clustertools_preauth_closes_total", [#"reason="undecryptable""#]) >= 1)
        #expect(Self.sum(m, "clustertools_hello_refusals_total", [#"code=""#]) >= 1)
        #expect(m["process_resident_memory_bytes"] ?? 0 > 1_000_000)
        #expect(m["process_open_fds"] ?? 0 > 3)
        #expect(m[#"clustertools_node_info{node="master-node",type="master"}"#] == 1)
        #expect(m[#"clustertools_memory_budget_limit_bytes{listener="cluster"}"#] == 335_544_320)

        // Prometheus's own checker on both scrapes, and on the alert rules.
        for text in [master, worker] {
            let r = try ToolRunner.shell("promtool check metrics", stdin: Array(text.utf8))
            #expect(r.status == 0, "promtool check metrics: \(r.stdoutText) \(r.stderr)")
        }
        let rules = try ToolRunner.shell("promtool check rules '\(Self.monitoring.appendingPathComponent("alerts.yml").path)'")
        #expect(rules.status == 0, "promtool check rules: \(rules.stdoutText) \(rules.stderr)")
        // The failover alerts evaluated by Prometheus's rule engine on made-up series.
        let ruleTests = try ToolRunner.shell("cd '\(Self.monitoring.path)' && promtool test rules alerts.test.yml")
        #expect(ruleTests.status == 0, "promtool test rules: \(ruleTests.stdoutText) \(ruleTests.stderr)")

        // Every metric the alerts and the dashboard use is one the daemons expose.
        // clustertools_ha_leader is made by masters under failover only (HAFailoverTests scrapes it).
        let exposed = Self.families(master).union(Self.families(worker)).union(["up", "clustertools_ha_leader"])
        let dashboardData = try Data(contentsOf: Self.monitoring.appendingPathComponent("dashboard.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: dashboardData) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= 15)
        let alerts = try String(contentsOf: Self.monitoring.appendingPathComponent("alerts.yml"), encoding: .utf8)
        let names = try Regex(#"\b(clustertools_[a-z_]+|process_[a-z_]+|up)\b"#)
        var referenced = Set<String>()
        for text in exprs + [alerts] {
            for match in text.matches(of: names) {
                var name = String(text[match.range])
                for suffix in ["_bucket", "_count", "_sum"] where name.hasSuffix(suffix) && !exposed.contains(name) {
                    name = String(name.dropLast(suffix.count))
                }
                referenced.insert(name)
            }
        }
        #expect(referenced.count >= 20)
        #expect(referenced.subtracting(exposed).isEmpty, "not exposed: \(referenced.subtracting(exposed).sorted())")
    }

    @Test func prometheusScrapesBothNodesAndSeesTheSyncCounterGrow() async throws {
        let h = try ClusterHarness("metrics-prom")
        defer { h.stopAll() }
        let mPort = try Self.freePort(), wPort = try Self.freePort(), pPort = try Self.freePort()
        let port = try await h.startMaster(extra: Self.metricsConfig(mPort))
        try h.startWorker("worker-1", masterPort: port, extra: Self.metricsConfig(wPort))
        let dir = h.dir.appendingPathComponent("prometheus")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files:
          - \(Self.monitoring.appendingPathComponent("alerts.yml").path)
        scrape_configs:
          - job_name: clustertools
            static_configs:
              - targets: ["127.0.0.1:\(mPort)", "127.0.0.1:\(wPort)"]
        """
        try Data(config.utf8).write(to: dir.appendingPathComponent("prometheus.yml"))
        let prom = Process()
        prom.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prom.arguments = ["--config.file=\(dir.appendingPathComponent("prometheus.yml").path)",
                          "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                          "--web.listen-address=127.0.0.1:\(pPort)"]
        let log = dir.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        prom.standardOutput = try FileHandle(forWritingTo: log)
        prom.standardError = try FileHandle(forWritingTo: log)
        try prom.run()
        // Stopped by its PID whatever happens: SIGTERM, then SIGKILL if it lingers.
        defer {
            if prom.isRunning {
                kill(prom.processIdentifier, SIGTERM)
                let deadline = Date().addingTimeInterval(10)
                while prom.isRunning && Date() < deadline { usleep(50_000) }
                if prom.isRunning { kill(prom.processIdentifier, SIGKILL) }
                prom.waitUntilExit()
            }
        }

        func query(_ q: String) throws -> [[String: Any]] {
            let r = try ToolRunner.shell("curl -s -m 10 -G --data-urlencode 'query=\(q)' 'http://127.0.0.1:\(pPort)/api/v1/query'")
            guard r.status == 0, let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any],
                  obj["status"] as? String == "success", let data = obj["data"] as? [String: Any] else { return [] }
            return data["result"] as? [[String: Any]] ?? []
        }
        func value(_ sample: [String: Any]) -> Double { Double((sample["value"] as? [Any])?.last as? String ?? "") ?? -1 }

        let promLog = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        try await h.waitUntil("Prometheus sees both nodes up", timeout: 90) {
            guard prom.isRunning else { throw HarnessTimeout(description: "prometheus exited: \(promLog())") }
            return try query("up == 1").count == 2
        }
        // The worker is connected and the master has nothing to send yet: the counter is 0.
        let before = try query(#"clustertools_syncs_total{kind="integrity_sync",outcome="ok",instance="127.0.0.1:\#(mPort)"}"#)
        #expect(before.count == 1 && value(before[0]) == 0)
        try Self.seedMaster(h, ["etc/shared/default/agent.conf": "<agent_config/>\n"])
        try await h.waitUntil("Prometheus sees the integrity sync counter increase", timeout: 90) {
            try query(#"increase(clustertools_syncs_total{kind="integrity_sync",outcome="ok"}[1m]) > 0"#).contains {
                ($0["metric"] as? [String: Any])?["instance"] as? String == "127.0.0.1:\(mPort)"
            }
        }
        let workerConnected = try query(#"clustertools_master_connected{instance="127.0.0.1:\#(wPort)"}"#)
        #expect(workerConnected.count == 1 && value(workerConnected[0]) == 1)
        // The alert rules loaded, and none is firing on a healthy cluster.
        let r = try ToolRunner.shell("curl -s -m 10 'http://127.0.0.1:\(pPort)/api/v1/rules'")
        #expect(r.stdoutText.contains("ClusterDeletionGuardTriggered"))
        #expect(try query(#"ALERTS{alertstate="firing"}"#).isEmpty)
    }

    @Test func healthzIs503UntilTheNodeServesAndTheListenerIsBounded() async throws {
        let h = try ClusterHarness("metrics-health")
        defer { h.stopAll() }
        let clusterPort = try Self.freePort(), mPort = try Self.freePort(), wPort = try Self.freePort()
        // A worker whose master is not running yet: alive, but not serving its role.
        try h.startWorker("worker-1", masterPort: clusterPort, extra: Self.metricsConfig(wPort))
        let worker = "http://127.0.0.1:\(wPort)"
        try await h.waitUntil("the worker's metrics listener") { try Self.http(worker + "/healthz").status != 0 }
        #expect(try Self.http(worker + "/healthz").status == 503)
        #expect(try Self.http(worker + "/metrics").body.contains("clustertools_master_connected 0"))

        _ = try await h.startMaster(extra: Self.metricsConfig(mPort).merging(["node": ["port": clusterPort]]) { $1 })
        let master = "http://127.0.0.1:\(mPort)"
        let health = try Self.http(master + "/healthz")
        #expect(health.status == 200 && health.body == "ok\n")
        try await h.waitUntil("the worker connected", timeout: 30) { try Self.http(worker + "/healthz").status == 200 }

        // Only GET and HEAD of the two paths.
        #expect(try Self.http(master + "/").status == 404)
        #expect(try Self.http(master + "/metrics/../etc").status == 404)
        #expect(try Self.http(master + "/metrics", method: "POST").status == 405)
        #expect(try Self.http(master + "/healthz", method: "DELETE").status == 405)
        // A request larger than the bound is cut off, and the listener still answers.
        let big = String(repeating: "a", count: 40_000)
        let r = try ToolRunner.shell("curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'X-Big: \(big)' '\(master)/metrics'")
        #expect(r.stdoutText != "200")
        #expect(try Self.http(master + "/healthz").status == 200)

        // The master's healthz goes to 503 once it is stopping; the worker's when it loses it.
        h.stop("master-node")
        try await h.waitUntil("the worker notices", timeout: 30) { try Self.http(worker + "/healthz").status == 503 }
    }

    @Test func aBadMetricsListenAddressIsAConfigurationError() throws {
        let h = try ClusterHarness("metrics-config")
        for bad in ["127.0.0.1", "127.0.0.1:99999", ":9516"] {
            try h.writeConfig("master-node", type: "master", extra: ["metrics": ["listen": bad]])
            let r = try ToolRunner.shell("cl-master run -c '\(h.configPath("master-node"))'")
            #expect(r.status == 78, "\(bad): \(r.stderr)")
            #expect(r.stderr.contains("metrics.listen"), "\(bad): \(r.stderr)")
        }
        try h.writeConfig("master-node", type: "master", extra: ["metrics": ["listen": "127.0.0.1:9516", "port": 1]])
        let r = try ToolRunner.shell("cl-master run -c '\(h.configPath("master-node"))'")
        #expect(r.status == 78 && r.stderr.contains("metrics.port"), "\(r.stderr)")
    }
}
