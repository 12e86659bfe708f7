import ClusterKit
import Foundation
import Testing

/// Clock jumps of ±1 hour on one node (issue 11), made with the node's clock offset (`FakeClock`,
/// `WallClock`): its wall clock moves while it runs, its monotonic clock does not, as with an NTP
/// step or an operator's `date -s`. What must hold: syncs go on (no
/// worker dropped, integrity keeps converging), rows whose keepalive is ahead of the master's
/// clock by more than `limits.max_keepalive_skew` are refused and reported on both sides,
/// nothing gets pinned in the future on the master, and the agents recover with their next
/// update once the clock is right.
@Suite(.serialized)
struct ClockJumpTests {
    static var now: Int { Int(Date().timeIntervalSince1970) }

    /// No keepalive on the master is further ahead of the real clock than the skew allows.
    static func nothingPinned(_ h: ClusterHarness) throws -> Bool {
        let limit = now + Int(AgentStore.defaultKeepaliveSkew)
        return try h.agentList("master-node", ["--select", "last_keepalive"]).allSatisfy { ($0["last_keepalive"] as? Int ?? 0) <= limit }
    }

    static func agents(_ round: Int, keepalive: Int) -> [String] {
        (1...20).map { AgentSyncTests.agentLine($0, name: "agent-\($0)-r\(round)", keepalive: keepalive) }
    }

    static func holdsRound(_ h: ClusterHarness, _ round: Int) throws -> Bool {
        let items = try h.agentList("master-node", ["--select", "name,node_name"])
        return items.count == 20 && items.allSatisfy { ($0["name"] as? String)?.hasSuffix("-r\(round)") == true && $0["node_name"] as? String == "worker-1" }
    }

    /// Changes a file on the master and waits for the worker to hold it.
    static func syncGoesOn(_ h: ClusterHarness, _ tag: String) async throws {
        let master = h.root("master-node"), worker = h.root("worker-1")
        try ClusterSyncTests.write(master, ["etc/rules/local_rules.xml": "<group name=\"\(tag),\"/>\n"])
        try await blocking { try await h.waitUntil("the worker holds the change made at \(tag)", timeout: 30) {
            ClusterSyncTests.tree(worker) == ClusterSyncTests.tree(master)
        } }
    }

    static func start(_ h: ClusterHarness, clockOn node: String, clock: FakeClock) async throws {
        try FileManager.default.createDirectory(at: h.root("master-node"), withIntermediateDirectories: true)
        try ClusterSyncTests.write(h.root("master-node"), ClusterSyncTests.seeded)
        let masterEnv = node == "master-node" ? clock.environment : [:]
        try h.writeConfig("master-node", type: "master", extra: AgentSyncTests.intervals)
        try h.start("master-node", tool: "cl-master", environment: masterEnv)
        let runFile = h.root("master-node").appendingPathComponent("var/run/cl-master.json").path
        try await blocking { try await h.waitUntil("the master listening") { FileManager.default.fileExists(atPath: runFile) } }
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFile))) as! [String: Any]
        try h.writeConfig("worker-1", type: "worker", master: info["port"] as? Int, extra: AgentSyncTests.intervals)
        try h.start("worker-1", tool: "cl-worker", environment: node == "worker-1" ? clock.environment : [:])
        try await blocking { try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] } }
        try await syncGoesOn(h, "start")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(0, keepalive: Self.now)) }.status == 0)
        try await blocking { try await h.waitUntil("round 0 on the master") { try Self.holdsRound(h, 0) } }
    }

    @Test func masterClockJumpsAnHourEachWay() async throws {
        let h = try ClusterHarness("clock-master")
        defer { h.stopAll() }
        let clock = try FakeClock(h.dir)
        try await Self.start(h, clockOn: "master-node", clock: clock)

        // +1 h: the worker's keepalives look an hour old on the wall clock; it stays connected.
        try await blocking { try clock.set(seconds: 3600) }
        try await Task.sleep(for: .seconds(3))
        #expect(h.connectedWorkers() == ["worker-1"])
        try await Self.syncGoesOn(h, "master+1h")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(1, keepalive: Self.now)) }.status == 0)
        try await blocking { try await h.waitUntil("round 1 on the master") { try Self.holdsRound(h, 1) } }

        // -1 h: every row the worker sends is an hour ahead of the master: refused and reported
        // on both sides; the master keeps round 1 and nothing moves into the future.
        try await blocking { try clock.set(seconds: -3600) }
        try await Task.sleep(for: .seconds(2))
        try await Self.syncGoesOn(h, "master-1h")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(2, keepalive: Self.now)) }.status == 0)
        try await blocking { try await h.waitForLog("worker-1", containing: "this node's clock or the master's is wrong") }
        try await blocking { try await h.waitForLog("master-node", containing: "ahead of this clock") }
        #expect(try await blocking { try Self.holdsRound(h, 1) })
        #expect(try await blocking { try Self.nothingPinned(h) })
        #expect(h.connectedWorkers() == ["worker-1"])

        // Right again: the agents' next update lands.
        try await blocking { try clock.set(seconds: 0) }
        try await Task.sleep(for: .seconds(2))
        try await Self.syncGoesOn(h, "master-right")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(3, keepalive: Self.now)) }.status == 0)
        try await blocking { try await h.waitUntil("round 3 on the master") { try Self.holdsRound(h, 3) } }
        #expect(try await blocking { try Self.nothingPinned(h) })
        #expect(!h.log("master-node").contains("No keepalive for"), "the master dropped the worker over a clock jump")
        #expect(!h.log("worker-1").contains("Reconnecting to the master"))
    }

    @Test func workerClockJumpsAnHourEachWay() async throws {
        let h = try ClusterHarness("clock-worker")
        defer { h.stopAll() }
        let clock = try FakeClock(h.dir)
        try await Self.start(h, clockOn: "worker-1", clock: clock)

        // +1 h: the worker's agents report keepalives from its clock, an hour ahead: refused,
        // reported, nothing pinned, files still sync.
        try await blocking { try clock.set(seconds: 3600) }
        try await Task.sleep(for: .seconds(2))
        try await Self.syncGoesOn(h, "worker+1h")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(1, keepalive: Self.now + 3600)) }.status == 0)
        try await blocking { try await h.waitForLog("worker-1", containing: "this node's clock or the master's is wrong") }
        #expect(try await blocking { try Self.holdsRound(h, 0) })
        #expect(try await blocking { try Self.nothingPinned(h) })

        // -1 h: its keepalives are an hour behind what the master holds: older rows, skipped;
        // the master keeps the newer copy, files still sync.
        try await blocking { try clock.set(seconds: -3600) }
        try await Task.sleep(for: .seconds(2))
        try await Self.syncGoesOn(h, "worker-1h")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(2, keepalive: Self.now - 3600)) }.status == 0)
        try await blocking { try await h.waitUntil("the push confirmed") {
            try h.agentList("worker-1", ["--select", "sync_status"]).allSatisfy { $0["sync_status"] as? String == "synced" }
        } }
        #expect(try await blocking { try Self.holdsRound(h, 0) })

        // Right again: the next update lands, nothing pinned.
        try await blocking { try clock.set(seconds: 0) }
        try await Task.sleep(for: .seconds(2))
        try await Self.syncGoesOn(h, "worker-right")
        #expect(try await blocking { try h.agents("worker-1", "upsert", stdin: Self.agents(3, keepalive: Self.now)) }.status == 0)
        try await blocking { try await h.waitUntil("round 3 on the master") { try Self.holdsRound(h, 3) } }
        #expect(try await blocking { try Self.nothingPinned(h) })
        #expect(!h.log("master-node").contains("No keepalive for"))
        #expect(!h.log("worker-1").contains("Reconnecting to the master"))
    }

    /// The master's system clock stepped forward an hour, with libfaketime (which moves what
    /// `Date()` reads): the keepalive reaper measured a worker's silence on that clock, so the
    /// first check after the step, before the worker's next keepalive, found 3,600 s of silence
    /// and closed the connection. It measures on the monotonic clock now.
    @Test(.enabled(if: Libfaketime.library != nil, "needs libfaketime (bin/setup installs it)"))
    func masterClockSteppedForwardDropsNoWorker() async throws {
        let h = try ClusterHarness("clock-faketime")
        defer { h.stopAll() }
        let clock = try Libfaketime(h.dir)
        try h.writeConfig("master-node", type: "master")
        try h.start("master-node", tool: "cl-master", environment: clock.environment, throughShell: true)
        let runFile = h.root("master-node").appendingPathComponent("var/run/cl-master.json").path
        try await blocking { try await h.waitUntil("the master listening") { FileManager.default.fileExists(atPath: runFile) } }
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFile))) as! [String: Any]
        // Keepalives every 10 s, checked every second: the reaper runs between them.
        try await blocking { try h.startWorker("worker-1", masterPort: info["port"] as! Int, extra: ["intervals": ["worker": ["keep_alive": 10]]]) }
        try await blocking { try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] } }
        try clock.set("+1h")
        try await Task.sleep(for: .seconds(5))
        #expect(!h.log("master-node").contains("No keepalive for"), "the master dropped the worker over a clock step")
        #expect(h.connectedWorkers() == ["worker-1"])
    }
}
