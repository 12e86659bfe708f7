import Foundation
import Testing

/// Failover when the network splits: each node in its own network namespace (NetworkLab), etcd
/// in one more, and the leader cut off from etcd alone by a blackhole route in its namespace
/// while its workers still reach it.
@Suite(.serialized, .enabled(if: NetworkLab.available, "needs root, ip(8) and /dev/net/tun"))
struct HAPartitionTests {
    static let ttl = 4.0
    static let port = 1516

    /// Runs a shell command inside lab node `ns`'s namespace.
    static func inNamespace(_ lab: NetworkLab, _ ns: String, _ command: String) throws -> ToolRunner.Result {
        try ToolRunner.shell(lab.execPrefix(ns).joined(separator: " ") + " " + command)
    }

    static func health(_ lab: NetworkLab, _ name: String) -> Int {
        let address = lab.node(name).address
        let r = try? inNamespace(lab, name, "curl -s -m 2 -o /dev/null -w '%{http_code}' http://\(address):9516/healthz")
        return Int(r?.stdoutText ?? "") ?? 0
    }

    /// The first time at or after `since` that `node`'s JSON log says `text` (seconds since 1970).
    static func loggedAt(_ h: ClusterHarness, _ node: String, _ text: String, after since: Double = 0) -> Double? {
        for line in h.stderr(node).split(separator: "\n") where line.contains(text) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let t = (o["time"] as? String).flatMap(HAFailoverTests.Cluster.parseTime), t >= since else { continue }
            return t
        }
        return nil
    }

    @Test func aLeaderCutOffFromEtcdButNotFromItsWorkersStopsBeforeTheOtherMasterServes() async throws {
        let lab = try NetworkLab(subnet: "10.77.9")
        defer { lab.close() }
        let h = try ClusterHarness("ha-partition")
        defer { h.stopAll() }
        for n in ["etcd", "master-a", "master-b", "worker-1", "worker-2"] { try lab.addNode(n) }
        let etcd = try EtcdCluster(in: h.dir, host: lab.node("etcd").address, prefix: lab.execPrefix("etcd"))
        defer { etcd.stopAll() }
        let masters = ["master-a", "master-b"].map { "\(lab.node($0).address):\(Self.port)" }
        for m in ["master-a", "master-b"] {
            let address = lab.node(m).address
            try h.writeConfig(m, type: "master", extra: [
                "node": ["bind": address, "port": Self.port],
                "ha": ["etcd": etcd.endpoints, "lease_ttl": Self.ttl],
                "metrics": ["listen": "\(address):9516"],
            ])
        }
        try ClusterSyncTests.write(h.root("master-a"), HAFailoverTests.files)
        try h.start("master-a", tool: "cl-master", extraArgs: ["--log-format", "json"], prefix: lab.execPrefix("master-a"))
        try await h.waitUntil("master-a serving", timeout: 30) { Self.health(lab, "master-a") == 200 }
        try h.start("master-b", tool: "cl-master", extraArgs: ["--log-format", "json"], prefix: lab.execPrefix("master-b"))
        try await h.waitUntil("master-b following", timeout: 30) { Self.health(lab, "master-b") == 503 }
        for w in ["worker-1", "worker-2"] {
            try h.writeConfig(w, type: "worker", extra: ["node": ["master": masters], "ha": ["etcd": etcd.endpoints]])
            try h.start(w, tool: "cl-worker", extraArgs: ["--log-format", "json"], prefix: lab.execPrefix(w))
        }
        let want = ClusterSyncTests.tree(h.root("master-a"))
        try await h.waitUntil("the workers and the follower synced", timeout: 30) {
            ["worker-1", "worker-2", "master-b"].allSatisfy { ClusterSyncTests.tree(h.root($0)) == want }
        }

        // Cut master-a off from etcd only: its workers still reach it.
        let cutAt = Date().timeIntervalSince1970
        _ = try NetworkLab.ip(["-n", lab.node("master-a").namespace, "route", "add", "blackhole", "\(lab.node("etcd").address)/32"])
        try await h.waitUntil("master-b serving", timeout: Self.ttl * 2 + 10) { Self.health(lab, "master-b") == 200 }
        let stopped = try #require(Self.loggedAt(h, "master-a", "Stopped serving workers", after: cutAt))
        let leading = try #require(Self.loggedAt(h, "master-b", "Leading: listening", after: cutAt))
        // The leader stepped down inside its lease, and before the other master bound the port.
        #expect(stopped - cutAt < Self.ttl, "master-a served \(stopped - cutAt) s after the cut")
        #expect(stopped < leading, "master-a stopped at \(stopped), master-b served from \(leading): never both")
        #expect(Self.health(lab, "master-a") == 503)
        // Every worker follows, and still syncs: a file changed on the new leader reaches it.
        try ClusterSyncTests.write(h.root("master-b"), ["etc/lists/after-partition": "b\n"])
        let want2 = ClusterSyncTests.tree(h.root("master-b"))
        try await h.waitUntil("the workers synced with master-b", timeout: 30) {
            ["worker-1", "worker-2"].allSatisfy { ClusterSyncTests.tree(h.root($0)) == want2 }
        }
        print("ha-partition: master-a stopped \(String(format: "%.2f", stopped - cutAt)) s after the cut, master-b served \(String(format: "%.2f", leading - cutAt)) s after it")

        // Healed: master-a campaigns again and follows; it takes the new leader's files.
        _ = try NetworkLab.ip(["-n", lab.node("master-a").namespace, "route", "del", "blackhole", "\(lab.node("etcd").address)/32"])
        try await h.waitUntil("master-a following and synced", timeout: 30) {
            ClusterSyncTests.tree(h.root("master-a")) == want2
        }
        #expect(Self.health(lab, "master-b") == 200 && Self.health(lab, "master-a") == 503)
    }
}
