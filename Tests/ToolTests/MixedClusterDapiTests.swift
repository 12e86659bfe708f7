import ClusterKit
import Foundation
import Testing

/// The distributed API in a mixed cluster: a real cl-master with a real cl-worker, and a
/// reference (Wazuh 4.9.2) worker played by the test on the wire, byte for byte as the
/// reference's handlers answer (dapi §1.5, §4): "unknown command" for what it does not know,
/// code references only, its answers in the reference's result encoding.
@Suite(.serialized) struct MixedClusterDapiTests {
    static func masterPort(_ h: ClusterHarness) throws -> Int {
        let url = h.root("master-node").appendingPathComponent("var/run/cl-master.json")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])["port"] as! Int
    }

    /// A reference request as its API builds it: the 13 keys of dapi §3.1.
    static func referenceRequest(_ module: String, _ qualname: String, _ kwargs: String, type: String = "local_master",
                                 isAsync: Bool = false) -> String {
        let name = qualname.split(separator: ".").last!
        return """
        {"f": {"__callable__": {"__name__": "\(name)", "__module__": "\(module)", "__qualname__": "\(qualname)", "__type__": "function"}}, \
        "f_kwargs": \(kwargs), "request_type": "\(type)", "wait_for_complete": false, "from_cluster": false, \
        "is_async": \(isAsync), "local_client_arg": \(isAsync ? "\"lc\"" : "null"), \
        "basic_services": ["wazuh-modulesd", "wazuh-analysisd", "wazuh-execd", "wazuh-db", "wazuh-remoted"], \
        "rbac_permissions": {"rbac_mode": "black"}, "current_user": "wazuh", "broadcasting": false, \
        "nodes": ["master-node", "worker-1", "ref-1"], "api_timeout": 10}
        """
    }

    /// Reads an answer as the reference's `as_wazuh_object` does, checking its markers: a
    /// result's class is one `wazuh.core.results` defines, an AffectedItemsWazuhResult has every
    /// key its `decode_json` reads.
    static func referenceResult(_ text: String) throws -> (cls: String, object: [String: Any]) {
        let d = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
        let r = try #require(d["__wazuh_result__"] as? [String: Any], "not a result: \(text.prefix(300))")
        let cls = try #require(r["__class__"] as? String)
        let object = try #require(r["__object__"] as? [String: Any])
        switch cls {
        case "WazuhResult":
            #expect(Set(object.keys) == ["str_priority", "result"])
        case "AffectedItemsWazuhResult":
            #expect(Set(object.keys) == Set(ReferenceEncoding.affectedItemsKeys))
            #expect(object["sort_casting"] as? [String] == ["int"] && object["sort_ascending"] as? [Bool] == [true])
            #expect((object["failed_items_keys"] as? [Any])?.count == (object["failed_items_values"] as? [Any])?.count)
        default:
            Issue.record("unknown result class \(cls)")
        }
        return (cls, object)
    }

    /// What a reference API asks a master of ours, through a reference worker: each entry of
    /// the table with the arguments its endpoint sends, answered in the reference's encoding;
    /// the authentication calls and a code reference not in the table refused at once.
    @Test func referenceRequestsAreAnsweredFromTheTable() async throws {
        let h = try await DapiTests.cluster("mixed-table", workers: ["worker-1"], extra: DapiTests.still)
        defer { h.stopAll() }
        let run = h.root("master-node").appendingPathComponent("var/run")
        try Data().write(to: run.appendingPathComponent("wazuh-remoted-\(getpid()).pid"))
        let ref = try FakeReferenceWorker(port: try Self.masterPort(h), key: h.key, name: "ref-1")
        defer { ref.close() }
        try await h.waitUntil("ref-1 connected") { Set(h.connectedWorkers()) == ["worker-1", "ref-1"] }

        let nodes = try ref.call("11", Self.referenceRequest("wazuh.cluster", "get_nodes_info", """
            {"filter_node": null, "offset": 0, "limit": 500, "sort": null, "search": null, "select": null, \
            "filter_type": "all", "q": "", "distinct": false}
            """, isAsync: true))
        #expect(nodes.command == "dapi_res", "\(nodes.text)")
        let n = try Self.referenceResult(nodes.text)
        #expect(n.cls == "AffectedItemsWazuhResult" && n.object["all_msg"] as? String == "All selected nodes information was returned")
        #expect(Set((n.object["affected_items"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }) == ["master-node", "worker-1", "ref-1"])
        #expect(n.object["total_affected_items"] as? Int == 3)

        let health = try Self.referenceResult(ref.call("12", Self.referenceRequest("wazuh.cluster", "get_health_nodes",
                                                                                    #"{"filter_node": ["worker-1"]}"#, isAsync: true)).text)
        let healthItems = try #require(health.object["affected_items"] as? [[String: Any]])
        #expect(healthItems.compactMap { ($0["info"] as? [String: Any])?["name"] as? String } == ["worker-1"])

        let status = try Self.referenceResult(ref.call("13", Self.referenceRequest("wazuh.cluster", "get_status_json", "{}")).text)
        #expect(status.cls == "WazuhResult" && status.object["str_priority"] is NSNull)
        #expect((status.object["result"] as? [String: Any])?["data"] as? [String: String] == ["enabled": "yes", "running": "yes"])

        let agents = try Self.referenceResult(ref.call("14", Self.referenceRequest("wazuh.agent", "get_agents", """
            {"agent_list": null, "offset": 0, "limit": 500, "sort": {"fields": ["id"], "order": "asc"}, "search": null, \
            "select": null, "filters": {"status": null, "older_than": null, "manager": null, "version": null, "group": null, \
            "node_name": null, "name": null, "ip": null, "registerIP": null, "group_config_status": null}, "q": null, "distinct": false}
            """)).text)
        #expect(agents.cls == "AffectedItemsWazuhResult" && agents.object["none_msg"] as? String == "No agent information was returned")

        let summary = try Self.referenceResult(ref.call("15", Self.referenceRequest("wazuh.agent", "get_agents_summary_status", "{}")).text)
        let data = try #require((summary.object["result"] as? [String: Any])?["data"] as? [String: Any])
        #expect(Set((data["connection"] as? [String: Any])?.keys.map { $0 } ?? []) == ["active", "disconnected", "never_connected", "pending", "total"])
        #expect(Set((data["configuration"] as? [String: Any])?.keys.map { $0 } ?? []) == ["synced", "not_synced", "total"])

        let groups = try Self.referenceResult(ref.call("16", Self.referenceRequest("wazuh.agent", "get_agent_groups", """
            {"offset": 0, "limit": 500, "group_list": null, "sort_by": ["name"], "sort_ascending": true, "search_text": null, \
            "complementary_search": null, "hash_algorithm": "md5", "q": null, "select": null, "distinct": false}
            """)).text)
        #expect(groups.cls == "AffectedItemsWazuhResult" && groups.object["all_msg"] as? String == "All selected groups information was returned")

        // GET /cluster/{node_id}/status: distributed_master with node_id, answered from var/run.
        let daemons = try Self.referenceResult(ref.call("17", Self.referenceRequest("wazuh.manager", "get_status", #"{"node_id": "master-node"}"#,
                                                                                     type: "distributed_master")).text)
        let states = try #require((daemons.object["affected_items"] as? [[String: String]])?.first)
        #expect(states["wazuh-clusterd"] == "running" && states["wazuh-remoted"] == "running" && states["wazuh-analysisd"] == "stopped")

        // GET /cluster/{node_id}/logs on the worker: its log, as ossec_log items.
        let logs = try Self.referenceResult(ref.call("18", Self.referenceRequest("wazuh.manager", "ossec_log", """
            {"node_id": "worker-1", "offset": 0, "limit": 5, "sort_by": ["timestamp"], "sort_ascending": false, \
            "search_text": null, "complementary_search": false, "tag": null, "level": null, "q": null, "select": null, "distinct": false}
            """, type: "distributed_master")).text)
        let lines = try #require(logs.object["affected_items"] as? [[String: Any]])
        #expect(!lines.isEmpty && lines.allSatisfy { Set($0.keys) == ["timestamp", "tag", "level", "description"] })

        // The API's token check: refused at once (the reference API would wait 20 s for a
        // silent peer), with the reason, as an exception a reference node decodes.
        let started = Date()
        let token = try ref.call("19", Self.referenceRequest("api.authentication", "check_token",
                                                             #"{"username": "wazuh", "token_nbf_time": 1, "run_as": false, "roles": [1], "origin_node_type": "worker"}"#),
                                 timeout: 5)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(token.command == "dapi_err")
        #expect(token.text.contains(#""__class__": "WazuhInternalError""#) && token.text.contains(#""code": 3009"#))
        #expect(token.text.contains("security database"))

        let other = try ref.call("20", Self.referenceRequest("wazuh.agent", "reconnect_agents", #"{"agent_list": ["001"]}"#), timeout: 5)
        #expect(other.command == "dapi_err" && other.text.contains(#""code": 3100"#) && other.text.contains("wazuh.agent.reconnect_agents"))
        #expect(ref.capsAsked == 1, "the master asked ref-1 once who it is")

        // cluster_control -a on the master's local socket: the minimal request of dapi §10.1.
        let local = try RawPeer(unixPath: h.root("master-node").appendingPathComponent("queue/cluster/c-internal.sock").path)
        defer { local.close() }
        let overview = """
        {"f": {"__callable__": {"__name__": "get_agents_overview", "__module__": "wazuh.core.agent", "__qualname__": "Agent.get_agents_overview", "__type__": "function"}}, \
        "f_kwargs": {"filters": {"status": "all", "node_name": "all"}, "limit": null, "select": ["id", "ip", "name", "status", "node_name", "version"]}, \
        "from_cluster": false, "wait_for_complete": false}
        """
        let answer = try FakeReferenceWorker.call(local, command: "dapi", payload: overview, timeout: 20)
        let o = try Self.referenceResult(answer.text)
        #expect(o.cls == "WazuhResult")
        let result = try #require(o.object["result"] as? [String: Any])
        #expect(result["items"] is [Any] && result["totalItems"] as? Int == 0)
    }

    /// Our master finds out which worker is a reference node, and never sends it a named
    /// operation: a table-mapped one goes as the code reference (and its answer is read back),
    /// any other is a failed item naming the reason, and cl-dapi leaves with 69, not 70.
    @Test func aReferenceWorkerIsNeverSentANamedOperation() async throws {
        let h = try await DapiTests.cluster("mixed-discovery", workers: ["worker-1"], debug: true)
        defer { h.stopAll() }
        // Our own node answers the capability request with what it supports.
        let probe = try RawPeer(port: try Self.masterPort(h), key: h.key)
        try probe.send("hello", Array("probe wazuh worker 4.9.2".utf8))
        #expect(try probe.readReply().command == "ok")
        try probe.send("node_caps", PeerCapabilities(product: "test", version: "1", operations: []).payload)
        let caps = try probe.readReply()
        #expect(caps.command == "ok")
        let theirs = try PeerCapabilities(payload: caps.payload)
        #expect(theirs.product == "clustertools" && theirs.operations.contains("agents.list") && theirs.features.contains("reference_calls"))
        probe.close()

        let ref = try FakeReferenceWorker(port: try Self.masterPort(h), key: h.key, name: "ref-1")
        ref.serve { f in
            // get_agents, as a reference worker answers it: one agent, and one id it does not have.
            guard f["__callable__"]?["__qualname__"] == "get_agents" else { return nil }
            return """
            {"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {"affected_items": [{"id": "005", "name": "ref-agent", "node_name": "ref-1", "status": "active"}], \
            "sort_fields": null, "sort_casting": ["int"], "sort_ascending": [true], "total_affected_items": 1, "total_failed_items": 1, "dikt": {}, \
            "all_msg": "All selected agents information was returned", "some_msg": "Some agents information was not returned", "none_msg": "No agent information was returned", \
            "failed_items_keys": [{"__object__": {"type": "about:blank", "title": "Resource Not Found", "code": 1701, "extra_message": null, "extra_remediation": null, "cmd_error": false, "dapi_errors": {}, "ids": []}, "__class__": "WazuhResourceNotFound"}], \
            "failed_items_values": [["002"]]}}}
            """
        }
        defer { ref.close() }
        try await h.waitUntil("ref-1 connected and asked") { h.connectedWorkers().contains("ref-1") && ref.capsAsked == 1 }
        try await h.waitForLog("master-node", containing: "ref-1 is a reference node")
        try await h.waitForLog("master-node", containing: "worker-1 runs clustertools")
        try await h.waitForLog("worker-1", containing: "the master runs clustertools")

        // No code reference for node.stats: nothing is sent; a failed item that says why.
        let one = try DapiTests.dapi(h, "node.stats --nodes ref-1", node: "master-node")
        #expect(one.status == 1 && one.failedIDs(code: 3103) == ["ref-1"], "\(one.stderr) \(one.json)")
        let why = (one.failed.first?["error"] as? [String: Any])?["message"] as? String
        #expect(why?.contains("reference (Wazuh) node") == true, "\(one.json)")
        // Across every node: the others answer, ref-1 is a failed item that says why.
        let all = try DapiTests.dapi(h, "node.stats --all", node: "master-node")
        #expect(all.status == 1 && all.items.count == 2 && all.failedIDs(code: 3103) == ["ref-1"], "\(all.json)")

        // agents.list has a code reference: sent as get_agents, its answer read back.
        let agents = try DapiTests.dapi(h, "agents.list --nodes ref-1", node: "master-node")
        #expect(agents.status == 1, "\(agents.stderr)")
        #expect(agents.items.compactMap { $0["id"] as? String } == ["005"])
        #expect(agents.failedIDs(code: 1701) == ["002"])

        // A code reference the reference node refuses (its handler's plain-text dapi_err): a
        // refusal by the peer, 3103, not an internal error.
        let status = try DapiTests.dapi(h, "cluster.status --nodes ref-1", node: "master-node")
        #expect(status.status == 1 && status.failedIDs(code: 3103) == ["ref-1"], "\(status.json)")

        let sent = ref.requests
        #expect(sent.count == 2, "only the code references were sent: \(sent)")
        #expect(try JSON.parse(Array(sent[1].utf8))["f"] == ReferenceCall("wazuh.cluster", "get_status_json").json)
        let request = try JSON.parse(Array(try #require(sent.first).utf8))
        #expect(request["f"] == ReferenceCall("wazuh.agent", "get_agents").json)
        #expect(request["from_cluster"] == true && request["f_kwargs"]?["filters"]?["node_name"] == "ref-1")
        #expect(!ref.tripped, "a named operation reached the reference worker")
    }
}

extension MixedClusterDapiTests {
    /// A worker of ours under a reference master (played by the test): it finds the master
    /// out, relays a table-mapped operation as its code reference and reads the answer back, and
    /// refuses to relay one without: error 3103, and cl-dapi leaves with 69, not 70.
    @Test func aWorkerUnderAReferenceMasterRelaysCodeReferencesOnly() async throws {
        let h = try ClusterHarness("mixed-ref-master")
        defer { h.stopAll() }
        let listener = try FakeMaster()
        defer { listener.close() }
        try h.startWorker("worker-1", masterPort: listener.port, args: ["--log-level", "debug"])
        let master = try FakeReferenceWorker(accepting: listener, key: h.key)
        master.serve { f in
            guard f["__callable__"]?["__qualname__"] == "get_nodes_info" else { return nil }
            return """
            {"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {"affected_items": [{"name": "ref-master", "type": "master", "version": "4.9.2", "ip": "127.0.0.1"}, {"name": "worker-1", "type": "worker", "version": "4.9.2", "ip": "127.0.0.1"}], \
            "sort_fields": null, "sort_casting": ["int"], "sort_ascending": [true], "total_affected_items": 2, "total_failed_items": 0, "dikt": {}, \
            "all_msg": "All selected nodes information was returned", "some_msg": "Some nodes information was not returned", "none_msg": "No information was returned", \
            "failed_items_keys": [], "failed_items_values": []}}}
            """
        }
        defer { master.close() }
        try await h.waitUntil("the worker asked who its master is") { master.capsAsked == 1 }
        try await h.waitForLog("worker-1", containing: "the master is a reference node")

        let stats = try DapiTests.dapi(h, "node.stats --type local_master", node: "worker-1")
        #expect(stats.status == 69, "\(stats.stderr)")
        #expect(stats.error?["code"] as? Int == 3103)
        #expect((stats.error?["message"] as? String)?.contains("reference (Wazuh) node") == true, "\(stats.stderr)")

        let nodes = try DapiTests.dapi(h, "cluster.nodes", node: "worker-1")
        #expect(nodes.status == 0, "\(nodes.stderr)")
        #expect(nodes.items.compactMap { $0["name"] as? String } == ["ref-master", "worker-1"])
        let sent = master.requests
        #expect(sent.count == 1, "\(sent)")
        let request = try JSON.parse(Array(try #require(sent.first).utf8))
        #expect(request["f"] == ReferenceCall("wazuh.cluster", "get_nodes_info").json)
        #expect(request["is_async"] == true && request["local_client_arg"] == "lc" && request["from_cluster"] == false)
        #expect(!master.tripped)
    }
}

/// A reference worker on the wire: says hello, answers `node_caps` (and anything it does not
/// know) with the reference's "unknown command", acknowledges `dapi` as its handler does, and
/// answers a code reference with what the test gives (`new_str`, `str_upd`, then `dapi_res`) or,
/// for a named operation, with the plain-text `dapi_err` its handler sends.
final class FakeReferenceWorker: @unchecked Sendable {
    let peer: RawPeer
    private let lock = NSLock()
    private var _requests: [String] = []
    private var _capsAsked = 0
    private var _tripped = false
    private var stop = false
    private var thread: Thread?

    var requests: [String] { lock.withLock { _requests } }
    var capsAsked: Int { lock.withLock { _capsAsked } }
    var tripped: Bool { lock.withLock { _tripped } }

    /// The commands a reference worker's handler knows (wire §1.5 and its own), and a
    /// master's: the permission requests are answered "False", the others "ok".
    static let known: Set<String> = ["echo", "echo-m", "dapi", "dapi_res", "dapi_err", "new_str", "str_upd", "err_str",
                                     "new_file", "file_upd", "file_end", "cancel_task", "syn_m_c_ok", "syn_m_c", "syn_m_c_e",
                                     "syn_m_c_r", "syn_m_a_e", "syn_m_a_err", "syn_g_m_w", "syn_g_m_w_c", "sendsyn_res", "sendsyn_err"]
    static let knownByMaster: Set<String> = ["echo", "echo-c", "dapi", "dapi_res", "dapi_err", "new_str", "str_upd", "err_str",
                                             "new_file", "file_upd", "file_end", "cancel_task", "syn_i_w_m_p", "syn_a_w_m_p",
                                             "syn_i_w_m", "syn_i_w_m_e", "syn_i_w_m_r", "syn_a_w_m", "syn_w_g_c", "syn_w_g_e",
                                             "syn_w_g_err", "syn_wgc_e", "syn_wgc_err", "get_nodes", "get_health", "sendsync"]
    private var isMaster = false

    /// Plays a reference master: accepts our worker's connection and its hello.
    init(accepting listener: FakeMaster, key: String) throws {
        var pfd = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 30_000) > 0 else { throw HarnessTimeout(description: "the worker did not connect") }
        let fd = Glibc.accept(listener.fd, nil, nil)
        guard fd >= 0 else { throw HarnessTimeout(description: "accept failed") }
        peer = try RawPeer(fd: fd, key: key)
        isMaster = true
        let hello = try peer.read(timeout: 30)
        guard hello.command == "hello" else { throw HarnessTimeout(description: "expected hello, got \(hello.command)") }
        let name = String(decoding: hello.payload, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
        try peer.send("ok", Array("Client \(name) added".utf8), counter: hello.counter)
    }

    init(port: Int, key: String, name: String) throws {
        peer = try RawPeer(port: port, key: key)
        try peer.send("hello", Array("\(name) wazuh worker 4.9.2".utf8))
        // The master's node_caps may come before the hello's answer is read.
        var strings: [String: [UInt8]] = [:]
        while true {
            let f = try peer.read()
            if f.counter == peer.counter && f.command == "ok" { break }
            _ = try handle(f, strings: &strings, answer: { _ in nil })
        }
    }

    func close() {
        lock.withLock { stop = true }
        thread.map { _ in Thread.sleep(forTimeInterval: 0.3) }
        peer.close()
    }

    /// Answers the master from a thread until `close`; `answer` gives the reference's result for
    /// a code reference (nil: the reference's "not found" path is not played).
    func serve(_ answer: @escaping @Sendable (JSON) -> String?) {
        let t = Thread { [self] in
            var strings: [String: [UInt8]] = [:]
            while !lock.withLock({ stop }) {
                guard let f = try? peer.read(timeout: 0.2) else { continue }
                _ = try? handle(f, strings: &strings, answer: answer)
            }
        }
        thread = t
        t.start()
    }

    /// One frame from the master, answered as a reference worker answers it. Returns the text of
    /// a `dapi_res` (the string it names) or a `dapi_err` sent to this side.
    @discardableResult
    func handle(_ f: RawPeer.Frame, strings: inout [String: [UInt8]], answer: (JSON) -> String?) throws -> (command: String, text: String)? {
        if ["ok", "err", "ok-m", "ok-c"].contains(f.command) { return nil }
        switch f.command {
        case "node_caps":
            lock.withLock { _capsAsked += 1 }
            try peer.send("err", WireError.unknownCommand(Array(f.command.utf8)), counter: f.counter)
        case "new_str":
            let sid = String(UInt32.random(in: 1...UInt32.max))
            strings[sid] = []
            try peer.send("ok", Array(sid.utf8), counter: f.counter)
        case "str_upd":
            let space = f.payload.firstIndex(of: 0x20) ?? f.payload.endIndex
            let sid = String(decoding: f.payload[..<space], as: UTF8.self)
            strings[sid, default: []].append(contentsOf: f.payload[min(space + 1, f.payload.count)...])
            try peer.send("ok", Array("String updated".utf8), counter: f.counter)
        case "dapi_res":
            let text = String(decoding: f.payload, as: UTF8.self)
            let sid = String(text.split(separator: " ").last ?? "")
            try peer.send("ok", Array("Distributed api response received".utf8), counter: f.counter)
            return ("dapi_res", String(decoding: strings.removeValue(forKey: sid) ?? [], as: UTF8.self))
        case "dapi_err":
            try peer.send("ok", Array("DAPI error forwarded to worker".utf8), counter: f.counter)
            let text = String(decoding: f.payload, as: UTF8.self)
            return ("dapi_err", String(text.drop { $0 != " " }.dropFirst()))
        case "dapi":
            try peer.send("ok", Array("Added request to API requests queue".utf8), counter: f.counter)
            let text = String(decoding: f.payload, as: UTF8.self)
            let id = String(text.prefix { $0 != " " })
            let body = String(text.drop { $0 != " " }.dropFirst())
            lock.withLock { _requests.append(body) }
            let json = try JSON.parse(Array(body.utf8))
            guard case .object? = json["f"], let reply = answer(json["f"]!) else {
                // The reference's handler on a named operation: AttributeError, sent as text.
                if json["f"]?.stringValue != nil { lock.withLock { _tripped = true } }
                try peer.send("dapi_err", Array("\(id) 'str' object has no attribute '__name__'".utf8))
                return nil
            }
            let bytes = Array(reply.utf8)
            try peer.send("new_str", Array(String(bytes.count).utf8))
            let sid = try peer.read(until: { $0.counter == self.peer.counter && $0.command == "ok" }).payload
            try peer.send("str_upd", sid + [0x20] + bytes)
            _ = try peer.read(until: { $0.counter == self.peer.counter })
            try peer.send("dapi_res", Array("\(id) ".utf8) + sid)
            _ = try peer.read(until: { $0.counter == self.peer.counter })
        case "echo-c":
            try peer.send("ok-m ", f.payload, counter: f.counter)
        case "syn_i_w_m_p", "syn_a_w_m_p":
            try peer.send("ok", Array("False".utf8), counter: f.counter)
        default:
            if (isMaster ? Self.knownByMaster : Self.known).contains(f.command) {
                try peer.send("ok", Array("Response received".utf8), counter: f.counter)
            } else {
                try peer.send("err", WireError.unknownCommand(Array(f.command.utf8)), counter: f.counter)
            }
        }
        return nil
    }

    /// Sends `dapi '<lc> <request>'` as a reference worker relays its API's request, and waits
    /// for the master's answer (`dapi_res` with its string, or `dapi_err`).
    func call(_ lc: String, _ request: String, timeout: Double = 30) throws -> (command: String, text: String) {
        try Self.call(peer, command: "dapi", payload: "\(lc) \(request)", timeout: timeout, via: self)
    }

    /// The same on any connection (the local socket too, where the answer names no client).
    static func call(_ peer: RawPeer, command: String, payload: String, timeout: Double, via fake: FakeReferenceWorker? = nil) throws -> (command: String, text: String) {
        try peer.send(command, Array(payload.utf8))
        let sent = peer.counter
        var strings: [String: [UInt8]] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        let handler = fake ?? FakeReferenceWorker.Local(peer: peer)
        // The answer's strings may come before the acknowledgement: both are handled as they come.
        while true {
            let f = try peer.read(timeout: max(0.1, deadline.timeIntervalSinceNow))
            if f.counter == sent, ["ok", "err"].contains(f.command) {
                if f.command == "err" { return ("err", String(decoding: f.payload, as: UTF8.self)) }
                continue
            }
            if let done = try handler.handle(f, strings: &strings, answer: { _ in nil }) { return done }
        }
    }

    /// The frame handling of a local client (no hello).
    private init(local peer: RawPeer) { self.peer = peer }
    static func Local(peer: RawPeer) -> FakeReferenceWorker { FakeReferenceWorker(local: peer) }
}
