import Foundation
import Testing

/// Starts real cl-master / cl-worker processes on loopback in a temporary tree, and stops every
/// one of them by PID when the test ends, whatever happened.
final class ClusterHarness: @unchecked Sendable {
    let dir: URL
    let key: String
    private(set) var processes: [String: Process] = [:]
    /// Where a node's stdout.log and stderr.log go when not in its root (a test that fills the
    /// root's disk keeps them outside, so the node's stderr is still readable).
    var outputOutsideRoot = false
    /// Where the tools started with `start` are (default: the build's products), and a command
    /// that execs every one of them (default: none); InstallTests runs installed copies in a
    /// private mount namespace this way.
    var toolsDirectory: String?
    var launchPrefix: [String] = []
    private let lock = NSLock()

    init(_ label: String = "cluster") throws {
        dir = try ToolRunner.temporaryDirectory(label)
        key = String((0..<32).map { _ in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_".randomElement()! })
        ClusterHarness.raiseFileLimit()
    }

    deinit { stopAll(); try? FileManager.default.removeItem(at: dir) }

    static func raiseFileLimit() {
        var rl = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        if rl.rlim_cur < 8192 {
            rl.rlim_cur = min(rl.rlim_max, 8192)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
        }
    }

    func root(_ node: String) -> URL { dir.appendingPathComponent(node) }
    func outputURL(_ node: String, _ name: String) -> URL {
        outputOutsideRoot ? dir.appendingPathComponent("\(node)-\(name)") : root(node).appendingPathComponent(name)
    }
    /// What the node wrote on stderr (its log lines go there too).
    func stderr(_ node: String) -> String { (try? String(contentsOf: outputURL(node, "stderr.log"), encoding: .utf8)) ?? "" }
    func configPath(_ node: String) -> String { root(node).appendingPathComponent("cluster.json").path }
    func logPath(_ node: String) -> String { root(node).appendingPathComponent("logs/cluster.log").path }

    /// Fast intervals so tests converge in seconds.
    static var fastIntervals: [String: Any] { [
        "worker": ["sync_integrity": 0.3, "keep_alive": 1, "connection_retry": 0.2, "connection_retry_max": 2],
        "master": ["recalculate_integrity": 0.3, "check_worker_lastkeepalive": 1],
        "communication": ["timeout_cluster_request": 10, "timeout_receiving_file": 30],
    ] }

    @discardableResult
    func writeConfig(_ node: String, type: String, master port: Int? = nil, cluster: String = "wazuh", key: String? = nil,
                     extra: [String: Any] = [:]) throws -> String {
        try FileManager.default.createDirectory(at: root(node), withIntermediateDirectories: true)
        var nodeSection: [String: Any] = ["name": node, "type": type, "root": "."]
        if type == "master" { nodeSection["bind"] = "127.0.0.1"; nodeSection["port"] = 0 }
        if let port { nodeSection["master"] = "127.0.0.1:\(port)" }
        var config: [String: Any] = ["cluster": ["name": cluster, "key": key ?? self.key], "node": nodeSection,
                                     "intervals": ClusterHarness.fastIntervals]
        for (k, v) in extra {
            if var existing = config[k] as? [String: Any], let add = v as? [String: Any] {
                for (k2, v2) in add {
                    if var inner = existing[k2] as? [String: Any], let addInner = v2 as? [String: Any] {
                        for (k3, v3) in addInner { inner[k3] = v3 }
                        existing[k2] = inner
                    } else { existing[k2] = v2 }
                }
                config[k] = existing
            } else { config[k] = v }
        }
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: configPath(node)))
        return configPath(node)
    }

    /// Starts `tool run -c <config>` for `node`; stdout and stderr go to files under the tree.
    /// `prefix` runs it through a command that execs it, such as `ip netns exec NS` (NetworkLab),
    /// so that the PID kept is still the tool's own. `throughShell` execs the tool from /bin/sh,
    /// for a preloaded library that a parent must load first (see Libfaketime).
    @discardableResult
    func start(_ node: String, tool: String, extraArgs: [String] = [], prefix: [String] = [],
               environment: [String: String] = [:], throughShell: Bool = false) throws -> Process {
        let p = Process()
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let executable = toolsDirectory.map { ($0 as NSString).appendingPathComponent(tool) } ?? ToolRunner.tool(tool)
        var command = [executable, "run", "-c", configPath(node)] + extraArgs
        if throughShell { command = ["/bin/sh", "-c", #"exec "$0" "$@""#] + command }
        command = (prefix.isEmpty ? launchPrefix : prefix) + command
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        let out = outputURL(node, "stdout.log"), err = outputURL(node, "stderr.log")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        lock.withLock { processes[node] = p }
        return p
    }

    /// Starts a master and returns the port it bound.
    func startMaster(_ name: String = "master-node", extra: [String: Any] = [:], args: [String] = []) async throws -> Int {
        try writeConfig(name, type: "master", extra: extra)
        let process = try start(name, tool: "cl-master", extraArgs: args)
        let runFile = root(name).appendingPathComponent("var/run/cl-master.json").path
        try await waitUntil("\(name) listening", timeout: 30) {
            guard process.isRunning else {
                let err = stderr(name)
                throw HarnessTimeout(description: "\(name) exited with status \(process.terminationStatus): \(err)")
            }
            return FileManager.default.fileExists(atPath: runFile)
        }
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFile))) as! [String: Any]
        return info["port"] as! Int
    }

    func startWorker(_ name: String, masterPort: Int, cluster: String = "wazuh", key: String? = nil,
                     extra: [String: Any] = [:], args: [String] = []) throws {
        try writeConfig(name, type: "worker", master: masterPort, cluster: cluster, key: key, extra: extra)
        try start(name, tool: "cl-worker", extraArgs: args)
    }

    func pid(_ node: String) -> Int32? { lock.withLock { processes[node]?.processIdentifier } }

    /// Sends `signal` and waits for the process to exit (its termination, not a poll), with a
    /// deadline after which it is killed.
    func stop(_ node: String, signal: Int32 = SIGTERM, timeout: Double = 15) {
        guard let p = lock.withLock({ processes.removeValue(forKey: node) }) else { return }
        let exited = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in exited.signal() }
        guard p.isRunning else { return }
        kill(p.processIdentifier, signal)
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
    }

    /// Waits for a process to exit, with a deadline.
    func waitForExit(_ p: Process, timeout: Double = 30) async throws {
        try await waitUntil("process \(p.processIdentifier) to exit", timeout: timeout) { !p.isRunning }
    }

    func stopAll() {
        for node in lock.withLock({ Array(processes.keys) }) { stop(node) }
    }

    func log(_ node: String) -> String { (try? String(contentsOfFile: logPath(node), encoding: .utf8)) ?? "" }

    /// Waits for `condition` with a deadline, looking again every 50 ms without holding a
    /// thread meanwhile (the in-process networking tests share the few the machine has).
    func waitUntil(_ what: String, timeout: Double = 30, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while ContinuousClock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessTimeout(description: "timed out after \(timeout) s waiting for \(what)")
    }

    func waitForLog(_ node: String, containing text: String, timeout: Double = 30) async throws {
        try await waitUntil("'\(text)' in \(node)'s log", timeout: timeout) { log(node).contains(text) }
    }

    /// Runs a query tool against a node (`cl-master nodes -c ...`) and parses its JSON.
    func query(_ tool: String, _ args: [String], node: String) throws -> Any {
        let r = try ToolRunner.shell("\(tool) \(args.joined(separator: " ")) -c '\(configPath(node))'")
        guard r.status == 0 else { throw HarnessTimeout(description: "\(tool) \(args) exited \(r.status): \(r.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout))
    }

    func connectedWorkers(master: String = "master-node") -> [String] {
        guard let nodes = try? query("cl-master", ["nodes"], node: master) as? [String: Any],
              let items = nodes["items"] as? [[String: Any]] else { return [] }
        return items.filter { $0["type"] as? String == "worker" }.compactMap { $0["name"] as? String }
    }

    static func rssKiB(_ pid: Int32) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
}

struct HarnessTimeout: Error, CustomStringConvertible { let description: String }
