import Testing
@testable import ClusterKit

/// What a SIGHUP puts in force and what it reports: intervals and limits applied, except the
/// few that size things made at start-up; every other change reported as needing a restart.
struct ConfigReloadTests {
    static func config(_ extra: [String: JSON] = [:], port: Int64 = 1516) throws -> ClusterConfig {
        var doc: JSON = [
            "cluster": ["name": "wazuh", "key": "0123456789abcdef0123456789abcdef"],
            "node": ["name": "master", "type": "master", "root": "/srv/cluster", "port": .int(port)],
        ]
        for (k, v) in extra { doc[k] = v }
        return try ClusterConfig(json: doc, baseDirectory: "/etc/clustertools")
    }

    @Test func appliesIntervalsAndLimitsAndReportsTheRest() throws {
        let start = try Self.config(["intervals": ["worker": ["keep_alive": 60]]])
        let new = try Self.config(["intervals": ["worker": ["keep_alive": 5], "master": ["watch_integrity": false]],
                                   "limits": ["hello_timeout": 3, "max_connections": 10]], port: 1517)
        let r = ConfigReload(start: start.document, current: start, new: new)
        #expect(r.applied.map(\.description) == ["intervals.worker.keep_alive 60 -> 5", "limits.hello_timeout (default) -> 3"])
        #expect(r.needRestart.map(\.description) == ["intervals.master.watch_integrity (default) -> false",
                                                      "limits.max_connections (default) -> 10", "node.port 1516 -> 1517"])
        #expect(r.config.intervals.workerKeepAlive == 5 && r.config.limits.helloTimeout == 3)
        // What needs a restart keeps its value in force.
        #expect(r.config.port == 1516 && r.config.limits.maxConnections == 4096 && r.config.intervals.masterWatchIntegrity)

        // A second reload of the same file: nothing new is applied, the pending restart is said again.
        let again = ConfigReload(start: start.document, current: r.config, new: new)
        #expect(again.applied.isEmpty)
        #expect(again.needRestart.count == 3)
    }

    @Test func classifiesKeys() {
        #expect(ConfigReload.isReloadable("intervals.master.recalculate_integrity"))
        #expect(ConfigReload.isReloadable("limits.max_delete_fraction"))
        #expect(!ConfigReload.isReloadable("limits.dapi_concurrency"))
        #expect(!ConfigReload.isReloadable("cluster.key"))
        #expect(!ConfigReload.isReloadable("files"))
    }
}
