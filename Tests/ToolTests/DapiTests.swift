import ClusterKit
import Foundation
import Testing

/// The distributed API through real cl-master / cl-worker processes and cl-dapi.
@Suite(.serialized) struct DapiTests {
    /// Intervals that keep the health report still while a test compares two readings.
    static var still: [String: Any] {
        ["intervals": ["worker": ["sync_integrity": 300, "keep_alive": 300, "sync_agent_info": 300],
                       "master": ["sync_agent_groups": 300, "agent_group_start_delay": 300]]]
    }

    static func cluster(_ label: String, workers: [String] = ["worker-1", "worker-2"], extra: [String: Any] = [:],
                        debug: Bool = false) async throws -> ClusterHarness {
        let h = try ClusterHarness(label)
        let args = debug ? ["--log-level", "debug"] : []
        let port = try await h.startMaster(extra: extra, args: args)
        for w in workers { try h.startWorker(w, masterPort: port, extra: extra, args: args) }
        try await h.waitUntil("\(workers) connected") { Set(h.connectedWorkers()) == Set(workers) }
        return h
    }

    struct Call {
        var status: Int32
        var json: [String: Any]
        var error: [String: Any]?
        var stderr: String
        var items: [[String: Any]] { json["affected_items"] as? [[String: Any]] ?? [] }
        var failed: [[String: Any]] { json["failed_items"] as? [[String: Any]] ?? [] }
        func failedIDs(code: Int) -> [String] {
            failed.filter { ($0["error"] as? [String: Any])?["code"] as? Int == code }.flatMap { $0["id"] as? [String] ?? [] }
        }
    }

    /// `cl-dapi call <args> -c <node's config>`.
    static func dapi(_ h: ClusterHarness, _ args: String, node: String, stdin: String = "") throws -> Call {
        let r = try ToolRunner.shell("cl-dapi call \(args) -c '\(h.configPath(node))'", stdin: Array(stdin.utf8))
        let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout))) as? [String: Any] ?? [:]
        return Call(status: r.status, json: json, error: errorLine(r.stderr), stderr: r.stderr)
    }

    static func stats(_ h: ClusterHarness, _ node: String) throws -> [String: Any] {
        let c = try dapi(h, "node.stats --type local_any", node: node)
        guard c.status == 0, let item = c.items.first, let d = item["dapi"] as? [String: Any] else {
            throw HarnessTimeout(description: "node.stats on \(node): exit \(c.status) \(c.stderr)")
        }
        return d
    }

    // MARK: routing and merging

    /// `cluster.health` through cl-dapi, asked on the master or on a worker, is the master's
    /// health report: one item per node, sorted by name.
    @Test func clusterHealthEqualsMasterHealth() async throws {
        let h = try await Self.cluster("dapi-health", extra: Self.still)
        defer { h.stopAll() }
        let health = try #require(try h.query("cl-master", ["health"], node: "master-node") as? [String: Any])
        let nodes = try #require(health["nodes"] as? [String: Any])
        let expected = nodes.keys.sorted().map { nodes[$0]! } as NSArray
        #expect(expected.count == 3)
        for via in ["master-node", "worker-1"] {
            let c = try Self.dapi(h, "cluster.health", node: via)
            #expect(c.status == 0, "\(c.stderr)")
            #expect(c.items as NSArray == expected, "asked on \(via)")
            #expect(c.json["total_affected_items"] as? Int == 3 && c.json["total_failed_items"] as? Int == 0)
        }
        // Nothing moved in between: the comparison was against a still report.
        let again = try #require(try h.query("cl-master", ["health"], node: "master-node") as? [String: Any])
        #expect(again as NSDictionary == health as NSDictionary)
        // A filter, and the request on standard input.
        let one = try Self.dapi(h, "", node: "worker-2",
                                stdin: #"{"f": "cluster.health", "f_kwargs": {"filter_node": ["worker-2"]}, "request_type": "local_master"}"#)
        #expect(one.status == 0 && one.items as NSArray == [nodes["worker-2"]!] as NSArray)
    }

    /// Fan-out to every node, to named nodes, and a name no node has.
    @Test func fanOutReachesTheNodesAsked() async throws {
        let h = try await Self.cluster("dapi-fanout")
        defer { h.stopAll() }
        let all = try Self.dapi(h, "node.stats --all", node: "worker-1")
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.items.map { $0["node"] as? String } == ["master-node", "worker-1", "worker-2"])
        #expect(all.items.map { $0["type"] as? String } == ["master", "worker", "worker"])

        let two = try Self.dapi(h, "cluster.config --nodes worker-2,master-node,nobody", node: "master-node")
        #expect(two.status == 1, "a node that does not exist is a failed item")
        #expect(two.items.map { $0["node_name"] as? String } == ["master-node", "worker-2"])
        #expect(two.failedIDs(code: 1730) == ["nobody"])
        #expect(!String(decoding: try JSONSerialization.data(withJSONObject: two.json), as: UTF8.self).contains(h.key))

        // local_any runs where it is asked.
        let here = try Self.dapi(h, "cluster.config --type local_any", node: "worker-2")
        #expect(here.items.map { $0["node_name"] as? String } == ["worker-2"])
        // The logs of two nodes, merged into one timeline, newest first.
        let logs = try Self.dapi(h, #"node.logs --nodes worker-1,master-node --args '{"limit": 8}'"#, node: "worker-2")
        let total = logs.json["total_affected_items"] as? Int ?? 0
        #expect(logs.status == 0 && total >= 2 && logs.items.count == min(8, total), "\(logs.json)")
        let stamps = logs.items.map { $0["timestamp"] as! String }
        #expect(stamps == stamps.sorted(by: >))
        #expect(Set(logs.items.map { $0["node"] as! String }).isSubset(of: ["worker-1", "master-node"]))
        // Only the master answers master facts, wherever they are asked, whatever the type.
        let nodes = try Self.dapi(h, #"cluster.nodes --type local_any --args '{"sort": "name"}'"#, node: "worker-1")
        #expect(nodes.items.map { $0["name"] as? String } == ["master-node", "worker-1", "worker-2"])
    }

    // MARK: agents

    /// Agents on two workers: the global page of `agents.list --all`, the totals of
    /// `agents.summary`, and routing by agent id to the owners.
    @Test func agentsAcrossTheCluster() async throws {
        let h = try await Self.cluster("dapi-agents")
        defer { h.stopAll() }
        let statuses = ["active", "disconnected", "pending", "never_connected"]
        var seed: UInt64 = 7
        func next() -> Int { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Int(seed >> 33) }
        for (node, ids) in [("worker-1", 1...30), ("worker-2", 31...55)] {
            var lines = ""
            for id in ids {
                let letter = "abcdef".map(String.init)[next() % 6]
                lines += #"{"id": \#(id), "name": "agent-\#(letter)-\#(next() % 1000)", "connection_status": "\#(statuses[next() % 4])", "version": "Wazuh v4.9.\#(next() % 3)"}"# + "\n"
            }
            let r = try ToolRunner.shell("cl-worker agents upsert -c '\(h.configPath(node))'", stdin: Array(lines.utf8))
            #expect(r.status == 0, "\(r.stderr)")
        }
        // What the stores hold, read directly.
        var stored: [[String: Any]] = []
        for node in ["worker-1", "worker-2"] {
            let list = try #require(try h.query("cl-worker", ["agents", "list"], node: node) as? [String: Any])
            stored += (list["items"] as? [[String: Any]] ?? []).filter { $0["name"] != nil }
        }
        #expect(stored.count == 55)
        func id(_ a: [String: Any]) -> Int { Int(a["id"] as! String)! }
        func name(_ a: [String: Any]) -> String { a["name"] as! String }
        func status(_ a: [String: Any]) -> String { a["connection_status"] as! String }
        let cases: [(String, ([String: Any], [String: Any]) -> Bool, Int, Int)] = [
            (#"{"limit": 10, "sort": "name"}"#, { name($0) != name($1) ? name($0) < name($1) : id($0) < id($1) }, 0, 10),
            (#"{"offset": 7, "limit": 12, "sort": "-connection_status,name"}"#,
             { status($0) != status($1) ? status($0) > status($1) : name($0) != name($1) ? name($0) < name($1) : id($0) < id($1) }, 7, 12),
            (#"{"limit": 5, "sort": "-id", "select": "name"}"#, { id($0) > id($1) }, 0, 5),
            (#"{"offset": 50, "limit": 10}"#, { id($0) < id($1) }, 50, 10),
        ]
        for (args, order, offset, limit) in cases {
            let c = try Self.dapi(h, "agents.list --all --args '\(args)'", node: "master-node")
            #expect(c.status == 0, "\(args): \(c.stderr)")
            let expected = Array(stored.sorted(by: order).dropFirst(offset).prefix(limit)).map { $0["id"] as! String }
            #expect(c.items.map { $0["id"] as? String } == expected, "\(args)")
            #expect(c.json["total_affected_items"] as? Int == 55)
        }
        let selected = try Self.dapi(h, #"agents.list --all --args '{"limit": 3, "sort": "-version,name", "select": "name"}'"#, node: "worker-2")
        #expect(selected.items.allSatisfy { Set($0.keys) == ["id", "name"] }, "\(selected.items)")
        let searched = try Self.dapi(h, #"agents.list --all --args '{"search": "agent-b", "limit": 100}'"#, node: "worker-1")
        #expect(searched.json["total_affected_items"] as? Int == stored.filter { name($0).contains("agent-b") }.count)
        #expect(searched.items.allSatisfy { ($0["name"] as? String)?.contains("agent-b") == true })

        // The summary adds up the stores.
        let summary = try Self.dapi(h, "agents.summary --all", node: "worker-1")
        #expect(summary.status == 0, "\(summary.stderr)")
        let totals = try #require(summary.items.first)
        #expect(totals["total"] as? Int == 55)
        #expect(totals["by_node"] as? NSDictionary == ["master-node": 0, "worker-1": 30, "worker-2": 25] as NSDictionary)
        var byStatus: [String: Int] = [:]
        for a in stored { byStatus[status(a), default: 0] += 1 }
        #expect(totals["by_status"] as? NSDictionary == byStatus as NSDictionary)

        // By agent id: the owners answer, once the master knows who owns what.
        try await h.waitUntil("the master to hold the workers' agents") {
            let list = try h.query("cl-master", ["agents", "list"], node: "master-node") as? [String: Any]
            return list?["totalItems"] as? Int == 55
        }
        let routed = try Self.dapi(h, #"agents.list --args '{"agent_list": ["3", "040", "999"]}'"#, node: "worker-2")
        #expect(routed.status == 1)
        #expect(routed.items.map { $0["id"] as? String } == ["003", "040"])
        #expect(routed.items.map { $0["node_name"] as? String } == ["worker-1", "worker-2"])
        #expect(routed.failedIDs(code: 1701) == ["999"])
    }

    // MARK: failures

    /// A worker killed while the master waits for its answer is a failed node; the others still
    /// answer, and the call returns at once, not at its deadline.
    @Test func killedWorkerIsAFailedNode() async throws {
        let h = try await Self.cluster("dapi-kill")
        defer { h.stopAll() }
        let victim = try #require(h.pid("worker-2"))
        // Stopped, it cannot answer: the fan-out waits for it.
        kill(victim, SIGSTOP)
        let out = h.dir.appendingPathComponent("call.out"), err = h.dir.appendingPathComponent("call.err")
        let call = Process()
        call.executableURL = URL(fileURLWithPath: ToolRunner.tool("cl-dapi"))
        call.arguments = ["call", "node.stats", "--all", "--timeout", "60", "-c", h.configPath("master-node")]
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        call.standardOutput = try FileHandle(forWritingTo: out)
        call.standardError = try FileHandle(forWritingTo: err)
        try call.run()
        defer { if call.isRunning { kill(call.processIdentifier, SIGKILL) } }
        try await h.waitUntil("the master waiting for worker-2's answer", timeout: 30) {
            (try Self.stats(h, "master-node")["awaiting_answers"] as? Int ?? 0) >= 1
        }
        #expect(call.isRunning)
        let killedAt = Date()
        h.stop("worker-2", signal: SIGKILL)
        try await h.waitUntil("cl-dapi to return", timeout: 20) { !call.isRunning }
        let took = Date().timeIntervalSince(killedAt)
        #expect(took < 5, "returned \(took) s after the kill (deadline 60 s)")
        #expect(call.terminationStatus == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let c = Call(status: call.terminationStatus, json: json, error: nil, stderr: "")
        #expect(c.items.map { $0["node"] as? String } == ["master-node", "worker-1"])
        #expect(c.failedIDs(code: 3018) == ["worker-2"], "\(c.failed)")
        #expect(c.json["total_failed_items"] as? Int == 1)
    }

    /// A worker that is alive but never answers: the call ends by the request's deadline
    /// (api_timeout plus one request timeout), with that worker as a failed node.
    @Test func silentWorkerTimesOutAtTheDeadline() async throws {
        var extra = Self.still
        extra["intervals"] = ["worker": ["sync_integrity": 300, "keep_alive": 300, "sync_agent_info": 300],
                              "communication": ["timeout_cluster_request": 2]]
        let h = try await Self.cluster("dapi-silent", extra: extra)
        defer { h.stopAll() }
        let victim = try #require(h.pid("worker-1"))
        kill(victim, SIGSTOP)
        defer { kill(victim, SIGCONT) }
        let start = Date()
        let c = try Self.dapi(h, "cluster.config --all --timeout 1", node: "master-node")
        let took = Date().timeIntervalSince(start)
        #expect(took < 6, "took \(took) s for a 1 s api_timeout and a 2 s request timeout")
        #expect(c.status == 1)
        #expect(c.items.map { $0["node_name"] as? String } == ["master-node", "worker-2"])
        // The acknowledgement (3020, after the 2 s request timeout) or the answer (3021) is late.
        #expect(c.failedIDs(code: 3020) + c.failedIDs(code: 3021) == ["worker-1"], "\(c.failed)")
    }

    // MARK: refusals

    /// An unknown operation and reference-style code references are refused by name on the
    /// local socket and on the cluster link, and nothing runs: no file appears, the nodes'
    /// executed counters do not move, and no execution is logged.
    @Test func refusedPayloadsRunNothing() async throws {
        let h = try await Self.cluster("dapi-refuse", workers: ["worker-1"], debug: true)
        defer { h.stopAll() }
        let marker = h.dir.appendingPathComponent("pwned").path
        let before = (master: try Self.stats(h, "master-node"), worker: try Self.stats(h, "worker-1"))

        let unknown = try Self.dapi(h, "os.system --args '{\"command\": \"touch \(marker)\"}'", node: "worker-1")
        #expect(unknown.status == 65)
        #expect(unknown.error?["code"] as? Int == 3100)
        #expect((unknown.error?["message"] as? String)?.contains("unknown operation 'os.system'") == true)

        let callable = """
        {"f": {"__callable__": {"__name__": "system", "__module__": "os", "__qualname__": "system", "__type__": "function"}},
         "f_kwargs": {"command": "touch \(marker)"}, "request_type": "distributed_master", "wait_for_complete": false,
         "from_cluster": false, "is_async": false, "local_client_arg": null, "rbac_permissions": {"rbac_mode": "black"},
         "broadcasting": true, "nodes": ["master-node", "worker-1"], "api_timeout": 10}
        """
        for node in ["master-node", "worker-1"] {
            let c = try Self.dapi(h, "", node: node, stdin: callable)
            #expect(c.status == 65, "\(node): \(c.stderr) \(c.json)")
            #expect((c.error?["message"] as? String)?.contains("operation 'os.system' is a code reference") == true, "\(c.stderr)")
        }
        // A code reference to an operation that exists is refused just the same.
        let named = #"{"f": {"__callable__": {"__name__": "logs", "__module__": "node", "__qualname__": "logs"}}, "request_type": "local_any"}"#
        let c = try Self.dapi(h, "", node: "worker-1", stdin: named)
        #expect(c.status == 65 && (c.error?["message"] as? String)?.contains("'node.logs' is a code reference") == true)

        // From the cluster link: a peer that said hello sends the reference's payload.
        let port = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: h.root("master-node")
            .appendingPathComponent("var/run/cl-master.json"))) as? [String: Any])["port"] as! Int
        let peer = try RawPeer(port: port, key: h.key)
        defer { peer.close() }
        try peer.send("hello", Array("rogue wazuh worker 4.9.2".utf8))
        #expect(try peer.readReply().command == "ok")
        try peer.send("dapi", Array("77 ".utf8) + Array(callable.utf8))
        let errFrame = try peer.read(until: { $0.command == "dapi_err" })
        let errText = String(decoding: errFrame.payload, as: UTF8.self)
        #expect(errText.hasPrefix("77 {\"__wazuh_exception__\""))
        #expect(errText.contains("3100") && errText.contains("os.system"))

        #expect(!FileManager.default.fileExists(atPath: marker))
        let after = (master: try Self.stats(h, "master-node"), worker: try Self.stats(h, "worker-1"))
        // The only executions: the node.stats calls themselves (one more on each node).
        #expect(after.master["executed"] as? Int == (before.master["executed"] as! Int) + 1)
        #expect(after.worker["executed"] as? Int == (before.worker["executed"] as! Int) + 1)
        #expect(after.master["refused"] as? Int == (before.master["refused"] as! Int) + 2)
        #expect(after.worker["refused"] as? Int == (before.worker["refused"] as! Int) + 3)
        for node in ["master-node", "worker-1"] {
            let log = h.log(node)
            #expect(log.contains("Refused a distributed API request"))
            #expect(!log.contains("Executed os.system") && !log.contains("Executed node.logs"))
            #expect(log.contains("Executed node.stats"), "debug execution lines are logged")
        }
        #expect(h.log("master-node").contains("Refused a distributed API request from worker rogue"))
    }

    // MARK: load

    /// Many cl-dapi calls at once, from every node, all get their own, correct answer.
    @Test func concurrentCallsAllAnswerCorrectly() async throws {
        let h = try await Self.cluster("dapi-concurrent")
        defer { h.stopAll() }
        let calls: [(String, String)] = [
            (#"cluster.nodes --args '{"sort": "name"}'"#, "master-node"), ("node.stats --all", "worker-1"),
            (#"cluster.config --nodes worker-2,worker-1 --args '{"select": "node_name"}'"#, "worker-2"),
            (#"node.logs --nodes worker-1 --args '{"limit": 3}'"#, "master-node"),
            ("integrity.hash --all", "worker-2"), ("cluster.health", "worker-1"),
        ]
        let n = 48
        var script = "cd '\(h.dir.path)'\n"
        for i in 0..<n {
            let (args, node) = calls[i % calls.count]
            script += "( cl-dapi call \(args) -c '\(h.configPath(node))' > out.\(i) 2> err.\(i); echo $? > rc.\(i) ) &\n"
        }
        script += "wait\n"
        let r = try ToolRunner.shell(script)
        #expect(r.status == 0)
        for i in 0..<n {
            let rc = (try? String(contentsOf: h.dir.appendingPathComponent("rc.\(i)"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let err = (try? String(contentsOf: h.dir.appendingPathComponent("err.\(i)"), encoding: .utf8)) ?? ""
            #expect(rc == "0", "call \(i) (\(calls[i % calls.count].0)): exit \(rc ?? "?") \(err)")
            let data = try Data(contentsOf: h.dir.appendingPathComponent("out.\(i)"))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "call \(i)")
            let items = json["affected_items"] as? [[String: Any]] ?? []
            switch i % calls.count {
            case 0: #expect(items.map { $0["name"] as? String } == ["master-node", "worker-1", "worker-2"])
            case 1: #expect(items.map { $0["node"] as? String } == ["master-node", "worker-1", "worker-2"])
            case 2: #expect(items as NSArray == [["node_name": "worker-1"], ["node_name": "worker-2"]] as NSArray)
            case 3:
                let total = json["total_affected_items"] as? Int ?? 0
                #expect(total >= 1 && items.count == min(3, total) && items.allSatisfy { $0["node"] as? String == "worker-1" })
            case 4: #expect(items.map { $0["node"] as? String } == ["master-node", "worker-1", "worker-2"])
            default: #expect(items.map { ($0["info"] as? [String: Any])?["name"] as? String } == ["master-node", "worker-1", "worker-2"])
            }
        }
    }
}

/// A raw cluster peer on a TCP socket: frames with Fernet, nothing else, so a test can send what
/// a misbehaving node would.
final class RawPeer {
    struct Frame { var counter: UInt32; var command: String; var payload: [UInt8] }
    let fd: Int32
    /// nil on the local socket, which is not encrypted.
    let fernet: Fernet?
    var counter: UInt32 = 1000
    var buffer: [UInt8] = []

    init(port: Int, key: String) throws {
        fd = try RawClient.connect(port: port)
        fernet = Fernet(key: try ClusterKey(text: key))
    }

    /// A connection accepted by a listener of the test's.
    init(fd: Int32, key: String) throws {
        self.fd = fd
        fernet = Fernet(key: try ClusterKey(text: key))
    }

    init(unixPath: String) throws {
        fd = try RawClient.connect(unixPath: unixPath)
        fernet = nil
    }

    func close() { Glibc.close(fd) }

    func send(_ command: String, _ payload: [UInt8], counter c: UInt32? = nil) throws {
        if c == nil { counter += 1 }
        let msg = try FrameEncoder(fernet: fernet).encode(command: command, counter: c ?? counter, payload: payload)
        try RawClient.send(fd, msg.bytes)
    }

    /// The next whole frame, decrypted.
    func read(timeout: Double = 10) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if buffer.count >= 20 {
                let length = Int(buffer[4]) << 24 | Int(buffer[5]) << 16 | Int(buffer[6]) << 8 | Int(buffer[7])
                if buffer.count >= 20 + length {
                    let counter = UInt32(buffer[0]) << 24 | UInt32(buffer[1]) << 16 | UInt32(buffer[2]) << 8 | UInt32(buffer[3])
                    let field = String(decoding: buffer[8..<19], as: UTF8.self)
                    let command = String(field.split(separator: " ", omittingEmptySubsequences: false)[0])
                    let token = Array(buffer[20..<(20 + length)])
                    buffer.removeFirst(20 + length)
                    return Frame(counter: counter, command: command, payload: try fernet.map { try $0.decrypt(token) } ?? token)
                }
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw HarnessTimeout(description: "no frame within \(timeout) s") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(left * 1000)) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw HarnessTimeout(description: "the peer closed the connection") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// The reply to our last request (frames the other side starts are answered `ok`).
    func readReply(timeout: Double = 10) throws -> Frame {
        try read(until: { $0.counter == self.counter && ["ok", "err"].contains($0.command) }, timeout: timeout)
    }

    /// Reads until a frame matches; requests from the other side are answered `ok`.
    func read(until match: (Frame) -> Bool, timeout: Double = 10) throws -> Frame {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let f = try read(timeout: max(0.1, deadline.timeIntervalSinceNow))
            if match(f) { return f }
            if !["ok", "err", "ok-m", "ok-c"].contains(f.command) {
                try send("ok", Array("Response received".utf8), counter: f.counter)
            }
        }
    }
}
