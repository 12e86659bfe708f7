import Foundation
import Testing

/// The daemons as an operator runs them under a service manager: one per root, SIGHUP reopens
/// the log and reloads intervals and limits, systemd hears READY/RELOADING/STOPPING, the root
/// must exist, and every failure is one plain line (JSON when stderr is not a terminal) with the
/// exit status that fits.
@Suite(.serialized) struct DaemonOperationTests {
    /// Words no operator-facing message may contain: Foundation domains, NIO call signatures,
    /// errno dumps.
    static let internalWords = ["NSCocoaErrorDomain", "bind(descriptor", "errno", "(error set)", "IOError", "NIOConnectionError",
                                "connection reset"]

    /// Every stderr line is one JSON object; returns them.
    static func jsonLines(_ stderr: String, _ context: String) -> [[String: Any]] {
        stderr.split(separator: "\n").compactMap { line in
            let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj != nil, "\(context): stderr line is not a JSON object: \(line)")
            return obj
        }
    }

    /// A failing one-shot command: its status, its one error (the last JSON line), and stderr as
    /// JSON Lines with no internal names anywhere.
    static func expectFailure(_ r: ToolRunner.Result, status: Int32, containing text: String, _ context: String) {
        #expect(r.status == status, "\(context): exit \(r.status), stderr \(r.stderr)")
        let lines = jsonLines(r.stderr, context)
        let message = (lines.last?["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains(text), "\(context): \(message)")
        #expect(!message.contains("\n"))
        for word in internalWords { #expect(!r.stderr.contains(word), "\(context): '\(word)' in \(r.stderr)") }
        for line in lines.dropLast() {
            #expect(line["level"] is String && line["message"] is String, "\(context): \(line)")
        }
    }

    static func pidFile(_ h: ClusterHarness, _ node: String) -> String {
        h.root(node).appendingPathComponent("var/run/clustertools.pid").path
    }

    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// A TCP socket bound on 127.0.0.1 to a port the system chooses (listening when asked), and
    /// that port.
    static func loopbackSocket(listening: Bool) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        if listening { _ = listen(fd, 1) }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// A port nothing listens on (bound by the system, then closed).
    static func closedPort() throws -> Int {
        let (fd, port) = loopbackSocket(listening: false)
        close(fd)
        return port
    }

    /// Sets `value` at a key path of a JSON object (`["intervals", "master", "recalculate_integrity"]`).
    static func set(_ object: inout [String: Any], _ path: ArraySlice<String>, _ value: Any) {
        guard let key = path.first else { return }
        if path.count == 1 { object[key] = value; return }
        var inner = object[key] as? [String: Any] ?? [:]
        set(&inner, path.dropFirst(), value)
        object[key] = inner
    }

    /// Rewrites a node's cluster.json with the values given by key path.
    static func editConfig(_ h: ClusterHarness, _ node: String, _ values: [String: Any]) throws {
        let url = URL(fileURLWithPath: h.configPath(node))
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        for (path, value) in values { set(&cfg, path.split(separator: ".").map(String.init)[...], value) }
        try JSONSerialization.data(withJSONObject: cfg).write(to: url)
    }

    @Test func secondDaemonOnTheSameRootIsRefusedAndTheFirstUntouched() async throws {
        let h = try ClusterHarness("one-per-root")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        let pid = try #require(h.pid("master-node"))
        let root = h.root("master-node").path
        let socket = h.root("master-node").appendingPathComponent("queue/cluster/c-internal.sock").path
        let store = h.root("master-node").appendingPathComponent("var/db/agents.db").path
        let before = (socket: Self.inode(socket), log: Self.inode(h.logPath("master-node")), store: Self.inode(store))
        #expect(before.socket != nil && before.log != nil && before.store != nil)
        #expect(try String(contentsOfFile: Self.pidFile(h, "master-node"), encoding: .utf8) == "\(pid)\ncl-master\n")

        // The same configuration, then the same root on another port, then a worker on that root.
        let message = "cl-master is already running for \(root) (pid \(pid))"
        Self.expectFailure(try ToolRunner.shell("cl-master run -c '\(h.configPath("master-node"))'"), status: 75,
                           containing: message, "same config")
        var other = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.configPath("master-node")))) as! [String: Any]
        var node = other["node"] as! [String: Any]
        node["port"] = try Self.closedPort()
        other["node"] = node
        let otherPath = h.root("master-node").appendingPathComponent("other-port.json").path
        try JSONSerialization.data(withJSONObject: other).write(to: URL(fileURLWithPath: otherPath))
        Self.expectFailure(try ToolRunner.shell("cl-master run -c '\(otherPath)'"), status: 75, containing: message, "other port")
        node["type"] = "worker"
        node["master"] = "127.0.0.1:1"
        other["node"] = node
        try JSONSerialization.data(withJSONObject: other).write(to: URL(fileURLWithPath: otherPath))
        Self.expectFailure(try ToolRunner.shell("cl-worker run -c '\(otherPath)'"), status: 75, containing: message, "worker on the root")

        // The first one is untouched: same socket, log and store, and it still answers.
        #expect(Self.inode(socket) == before.socket && Self.inode(h.logPath("master-node")) == before.log
                && Self.inode(store) == before.store)
        let nodes = try #require(try h.query("cl-master", ["nodes"], node: "master-node") as? [String: Any])
        #expect((nodes["items"] as? [[String: Any]])?.first?["name"] as? String == "master-node")
        #expect(!h.log("master-node").contains("already running"))
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }

        // A crash leaves the pid file naming a dead process: it does not block the next start.
        h.stop("master-node", signal: SIGKILL)
        #expect(FileManager.default.fileExists(atPath: Self.pidFile(h, "master-node")))
        try FileManager.default.removeItem(at: h.root("master-node").appendingPathComponent("var/run/cl-master.json"))
        _ = try await h.startMaster()
        let again = try #require(h.pid("master-node"))
        #expect(again != pid)
        #expect(try String(contentsOfFile: Self.pidFile(h, "master-node"), encoding: .utf8) == "\(again)\ncl-master\n")
        #expect(try h.query("cl-master", ["nodes"], node: "master-node") is [String: Any])
    }

    @Test func sighupReopensTheLogAndReloadsIntervalsAndLimits() async throws {
        let h = try ClusterHarness("sighup")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        let pid = try #require(h.pid("master-node"))
        try await h.waitForLog("master-node", containing: "Listening on")

        // logrotate's move: the old file keeps the lines written so far, a new one takes the next.
        let rotated = h.logPath("master-node") + ".1"
        try FileManager.default.moveItem(atPath: h.logPath("master-node"), toPath: rotated)
        try Self.editConfig(h, "master-node", ["intervals.master.recalculate_integrity": 0.5, "limits.hello_timeout": 0.5,
                                               "limits.max_connections": 100, "node.bind": "127.0.0.2"])
        kill(pid, SIGHUP)
        try await h.waitForLog("master-node", containing: "reloaded:")
        let log = h.log("master-node")
        #expect(log.contains("SIGHUP: log file \(h.logPath("master-node")) opened again."), "\(log)")
        #expect(log.contains("intervals.master.recalculate_integrity 0.3 -> 0.5"), "\(log)")
        #expect(log.contains("limits.hello_timeout (default) -> 0.5"), "\(log)")
        #expect(log.contains("applied only by a restart"), "\(log)")
        #expect(log.contains("limits.max_connections (default) -> 100") && log.contains("node.bind \"127.0.0.1\" -> \"127.0.0.2\""), "\(log)")
        #expect(!(try String(contentsOfFile: rotated, encoding: .utf8)).contains("SIGHUP"))

        // The new hello_timeout is in force: a connection that says nothing is closed after
        // half a second, not the default ten.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(silent, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(silent, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        #expect(recv(silent, &byte, 1, 0) == 0, "the master kept a silent connection open past the reloaded hello_timeout")

        // Still serving, on the address it bound: a worker joins, the local socket answers.
        #expect(h.processes["master-node"]?.isRunning == true)
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }

        // A file that no longer reads keeps what is in force.
        let good = try Data(contentsOf: URL(fileURLWithPath: h.configPath("master-node")))
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: h.configPath("master-node")))
        kill(pid, SIGHUP)
        try await h.waitForLog("master-node", containing: "not reloaded, the configuration in force is kept")
        try good.write(to: URL(fileURLWithPath: h.configPath("master-node")))  // for the queries, which read it
        #expect(h.connectedWorkers() == ["worker-1"])

        // The worker too: a reload applies there, and it stays connected.
        let wpid = try #require(h.pid("worker-1"))
        try Self.editConfig(h, "worker-1", ["intervals.worker.keep_alive": 2])
        kill(wpid, SIGHUP)
        try await h.waitForLog("worker-1", containing: "intervals.worker.keep_alive 1 -> 2")
        #expect(h.processes["worker-1"]?.isRunning == true)
        #expect(h.connectedWorkers() == ["worker-1"])
    }

    @Test func systemdHearsReadyReloadingAndStopping() async throws {
        let h = try ClusterHarness("sd-notify")
        defer { h.stopAll() }
        let path = h.dir.appendingPathComponent("notify.sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd); unlink(path) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buf, buf.count, 0)
            return n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : "(nothing: \(String(cString: strerror(errno))))"
        }
        try h.writeConfig("master-node", type: "master")
        let p = try h.start("master-node", tool: "cl-master", environment: ["NOTIFY_SOCKET": path])
        #expect(receive() == "READY=1")
        // By READY the master serves: its local socket answers at once.
        #expect(try h.query("cl-master", ["nodes"], node: "master-node") is [String: Any])
        kill(p.processIdentifier, SIGHUP)
        let reloading = receive()
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), "\(reloading)")
        #expect(receive() == "READY=1")
        kill(p.processIdentifier, SIGTERM)
        #expect(receive() == "STOPPING=1")
        try await h.waitForExit(p)
        #expect(p.terminationStatus == 0)
    }

    @Test func theRootMustExistAndBeWritableAndInitMakesIt() async throws {
        let dir = try ToolRunner.temporaryDirectory("root-check")
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = "Wazuh_Golden_Key_0123456789abcde"
        func config(_ root: String) throws {
            let cfg: [String: Any] = ["cluster": ["name": "wazuh", "key": key],
                                      "node": ["name": "m", "type": "master", "root": root, "bind": "127.0.0.1", "port": 0]]
            try JSONSerialization.data(withJSONObject: cfg).write(to: dir.appendingPathComponent("cluster.json"))
        }
        let root = dir.appendingPathComponent("srv/cluster").path

        // A mistyped root is not created.
        try config("srv/cluster")
        Self.expectFailure(try ToolRunner.shell("cl-master run -c cluster.json", in: dir), status: 78,
                           containing: "node.root \(root) does not exist", "missing root")
        // Nor by a command that opens the agent store.
        Self.expectFailure(try ToolRunner.shell("cl-master agents list -c cluster.json", in: dir), status: 78,
                           containing: "node.root \(root) does not exist", "agents list on a missing root")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("srv").path))

        // A file where the directory should be.
        try Data().write(to: dir.appendingPathComponent("plain-file"))
        try config("plain-file")
        Self.expectFailure(try ToolRunner.shell("cl-master run -c cluster.json", in: dir), status: 78,
                           containing: "is not a directory", "file as root")

        // A root on a read-only mount (root bypasses modes, not a read-only mount).
        let ro = dir.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: ro, withIntermediateDirectories: true)
        let mounted = try ToolRunner.shell("mount --bind '\(ro.path)' '\(ro.path)' && mount -o remount,bind,ro '\(ro.path)'")
        #expect(mounted.status == 0, "\(mounted.stderr)")
        defer { _ = try? ToolRunner.shell("umount '\(ro.path)'") }
        try config("ro")
        Self.expectFailure(try ToolRunner.shell("cl-master run -c cluster.json", in: dir), status: 77,
                           containing: "node.root \(ro.path) is on a read-only file system", "read-only root")
        Self.expectFailure(try ToolRunner.shell("cl-master init -c cluster.json", in: dir), status: 77,
                           containing: ro.path, "init on a read-only root")

        // init makes the root deliberately, twice without harm; the master then runs on it.
        try config("srv/cluster")
        let made = try ToolRunner.shell("cl-master init -c cluster.json", in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(made.stdout)) as? [String: Any]
        #expect((report?["created"] as? [String])?.contains(root + "/var/run") == true, "\(made.stdoutText)")
        let again = try ToolRunner.shell("cl-worker init --root '\(root)'")
        let againReport = try JSONSerialization.jsonObject(with: Data(again.stdout)) as? [String: Any]
        #expect(again.status == 0 && againReport?["created"] as? [String] == [], "\(again.stderr)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ToolRunner.tool("cl-master"))
        p.arguments = ["run", "-c", dir.appendingPathComponent("cluster.json").path]
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGTERM); p.waitUntilExit() } }
        let runFile = root + "/var/run/cl-master.json"
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: runFile) && p.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: runFile))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func operatorErrorsArePlainWithTheirExitCodes() async throws {
        let h = try ClusterHarness("operator-errors")
        defer { h.stopAll() }

        // A stopped master: nothing listening, 69 — from a one-shot sync and a daemon's log.
        let closed = try Self.closedPort()
        try h.writeConfig("lonely", type: "worker", master: closed)
        let refused = try ToolRunner.shell("cl-worker sync integrity --once -c '\(h.configPath("lonely"))'")
        Self.expectFailure(refused, status: 69, containing: "nothing is listening on 127.0.0.1:\(closed)", "connection refused")
        #expect(!refused.stderr.contains("closed the connection"), "\(refused.stderr)")

        // A port in use: 69, said so.
        let (listener, busy) = Self.loopbackSocket(listening: true)
        defer { close(listener) }
        try h.writeConfig("busy", type: "master", extra: ["node": ["port": busy]])
        let inUse = try ToolRunner.shell("cl-master run -c '\(h.configPath("busy"))'")
        Self.expectFailure(inUse, status: 69, containing: "port 127.0.0.1:\(busy) is already in use", "port in use")
        #expect(!FileManager.default.fileExists(atPath: h.root("busy").appendingPathComponent("queue/cluster/c-internal.sock").path))

        // Something listening that never answers hello: 75 once the request deadline passes.
        try h.writeConfig("unanswered", type: "worker", master: busy,
                          extra: ["intervals": ["communication": ["timeout_cluster_request": 1]]])
        let unanswered = try ToolRunner.shell("cl-worker sync integrity --once -c '\(h.configPath("unanswered"))'")
        Self.expectFailure(unanswered, status: 75, containing: "did not answer hello within 1 s", "hello unanswered")

        // A wrong cluster key: the worker says so, one-shot (77) and daemon alike.
        let port = try await h.startMaster()
        try h.writeConfig("wrong-key", type: "worker", master: port, key: "A_Completely_Different_Key_12345")
        let wrong = try ToolRunner.shell("cl-worker sync integrity --once --timeout 20 -c '\(h.configPath("wrong-key"))'")
        Self.expectFailure(wrong, status: 77, containing: "the cluster key (cluster.key or cluster.key_file) probably differs from the master's",
                           "wrong key")
        try h.start("wrong-key", tool: "cl-worker")
        try await h.waitForLog("wrong-key", containing: "probably differs from the master's")

        // A query of a node that is not running: 69, JSON Lines.
        Self.expectFailure(try ToolRunner.shell("cl-worker nodes -c '\(h.configPath("lonely"))'"), status: 69,
                           containing: "Cluster is not running", "not running")
        // Usage errors are JSON Lines too when stderr is not a terminal.
        Self.expectFailure(try ToolRunner.shell("cl-master run --log-level loud -c '\(h.configPath("busy"))'"), status: 64,
                           containing: "--log-level", "usage")
    }
}
