import Foundation
import Testing
@testable import ClusterKit

/// The reference's code references answered by the compiled-in table, its result encoding
/// (bytes from dapi §2, verified there against the real 4.9.2 modules), and the other way: what
/// a reference node is sent, and how its answer is read.
@Suite struct ReferenceCallTableTests {
    static func refusal(_ body: () throws -> Any) -> ClusterError? {
        do { _ = try body(); return nil } catch let e as ClusterError { return e } catch { return nil }
    }

    /// dapi §2.3, verified: the encoder's form of a static method.
    @Test func codeReferenceIsWrittenAsTheReferenceWritesIt() {
        let overview = ReferenceCall("wazuh.core.agent", "Agent.get_agents_overview")
        #expect(JSONWriter.python.string(overview.json) == #"{"__callable__": {"__name__": "get_agents_overview", "__module__": "wazuh.core.agent", "__qualname__": "Agent.get_agents_overview", "__type__": "function"}}"#)
        let reconnect = ReferenceCall("wazuh.agent", "reconnect_agents")
        #expect(JSONWriter.python.string(reconnect.json) == #"{"__callable__": {"__name__": "reconnect_agents", "__module__": "wazuh.agent", "__qualname__": "reconnect_agents", "__type__": "function"}}"#)
        #expect(ReferenceCall(json: overview.json) == overview)
    }

    /// dapi §2.2, verified: WazuhResult byte for byte; an AffectedItemsWazuhResult byte for byte
    /// (the verified example without its failed item, whose class the example chose freely).
    @Test func resultsAreWrittenAsTheReferenceEncoderWritesThem() {
        #expect(JSONWriter.python.string(ReferenceEncoding.wazuhResult(["data": ["enabled": "yes"]]))
            == #"{"__wazuh_result__": {"__class__": "WazuhResult", "__object__": {"str_priority": null, "result": {"data": {"enabled": "yes"}}}}}"#)
        let r = DapiResult(items: ["001"])
        let m = ReferenceEncoding.Messages(all: "All ok", some: "Some", none: "None")
        #expect(JSONWriter.python.string(ReferenceEncoding.affectedItems(r, messages: m)) == """
        {"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {"affected_items": ["001"], "sort_fields": null, "sort_casting": ["int"], "sort_ascending": [true], "total_affected_items": 1, "total_failed_items": 0, "dikt": {}, "all_msg": "All ok", "some_msg": "Some", "none_msg": "None", "failed_items_keys": [], "failed_items_values": []}}}
        """)
    }

    /// The verified AffectedItemsWazuhResult of dapi §2.2, failed item included, read as
    /// `as_wazuh_object` reads it: items, total, the failed ids grouped under their error, and
    /// `total_failed_items` recomputed, not read.
    @Test func aReferenceResultIsReadAsTheReferenceReadsIt() throws {
        let verified = """
        {"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {
          "affected_items": ["001"], "sort_fields": null, "sort_casting": ["int"], "sort_ascending": [true],
          "total_affected_items": 1, "total_failed_items": 7, "dikt": {},
          "all_msg": "All ok", "some_msg": "Some", "none_msg": "None",
          "failed_items_keys":   [{"__object__": {"type": "about:blank", "title": "Bad Request", "code": 1701,
                                    "extra_message": null, "extra_remediation": null, "cmd_error": false,
                                    "dapi_errors": {}, "ids": []}, "__class__": "WazuhError"}],
          "failed_items_values": [["002"]]}}}
        """
        guard case .affectedItems(let r, let m) = ReferenceEncoding.decode(Array(verified.utf8)) else {
            Issue.record("not read as an AffectedItemsWazuhResult")
            return
        }
        #expect(r.affectedItems == ["001"] && r.totalAffectedItems == 1 && r.totalFailedItems == 1)
        #expect(r.failedItems.map(\.error.code) == [1701] && r.failedItems.map(\.ids) == [["002"]])
        #expect(m == ReferenceEncoding.Messages(all: "All ok", some: "Some", none: "None"))
        // A WazuhResult, an exception, and what the reference cannot decode.
        #expect(ReferenceEncoding.decode(Array(#"{"__wazuh_result__": {"__class__": "WazuhResult", "__object__": {"str_priority": null, "result": {"data": {"enabled": "yes"}}}}}"#.utf8))
            == .wazuhResult(["data": ["enabled": "yes"]]))
        let exc = #"{"__wazuh_exception__": {"__class__": "WazuhInternalError", "__object__": {"type": "about:blank", "title": "Wazuh Internal Error", "code": 3021, "extra_message": null, "extra_remediation": null, "cmd_error": false, "dapi_errors": {}}}}"#
        #expect(ReferenceEncoding.decode(Array(exc.utf8)) == .exception(ClusterError.wazuh(3021)))
        // A missing key is a KeyError in decode_json: 1000 "cannot be decoded".
        let noMessages = #"{"__wazuh_result__": {"__class__": "AffectedItemsWazuhResult", "__object__": {"affected_items": []}}}"#
        guard case .exception(let e) = ReferenceEncoding.decode(Array(noMessages.utf8)) else { Issue.record("decoded"); return }
        #expect(e.code == 1000 && e.message.contains("cannot be decoded"))
        guard case .exception(let cls) = ReferenceEncoding.decode(Array(#"{"__wazuh_result__": {"__class__": "os.system", "__object__": {}}}"#.utf8)) else {
            Issue.record("an unknown class was decoded"); return
        }
        #expect(cls.code == 1000)
        // The reference's plain-text `dapi_err` (what its handler raised): a refusal by the peer.
        guard case .exception(let plain) = ReferenceEncoding.decode(Array("'str' object has no attribute '__name__'".utf8)) else {
            Issue.record("plain text decoded"); return
        }
        #expect(plain.code == 3103 && plain.exit == .unavailable)
    }

    /// Our results written for the reference and read back: the failed items survive, and an
    /// error code the reference does not know travels as 3009 with our text verbatim.
    @Test func ourAnswersRoundTripThroughTheReferenceEncoding() throws {
        var r = DapiResult(items: [["name": "worker-1"]], total: 3)
        r.addFailure(ClusterError.wazuh(1730, "ghost"), ids: ["ghost"])
        r.addFailure(ClusterError.wazuh(3103, "not sent"), ids: ["ref-1"])
        let m = ReferenceEncoding.Messages(all: "a", some: "s", none: "n")
        let bytes = JSONWriter.python.bytes(ReferenceEncoding.affectedItems(r, messages: m))
        guard case .affectedItems(let back, _) = ReferenceEncoding.decode(bytes) else { Issue.record("not decoded"); return }
        #expect(back.totalAffectedItems == 3 && back.totalFailedItems == 2)
        #expect(back.failedItems.map(\.error.code) == [1730, 3009])
        #expect(back.failedItems[1].error.message.contains("Error 3103") && back.failedItems[1].ids == ["ref-1"])
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""__class__": "WazuhResourceNotFound""#) && text.contains(#""cmd_error": true"#))
        #expect(!text.contains("3103,"), "a code the reference does not know is never sent as a code")
    }

    // MARK: the table, from the reference's requests

    static func request(_ module: String, _ qualname: String, _ kwargs: JSON, extra: JSONObject = [:]) -> JSON {
        var o: JSONObject = ["f": ReferenceCall(module, qualname).json, "f_kwargs": kwargs]
        for k in extra.keys { o[k] = extra[k] }
        return .object(o)
    }

    /// `cluster_control -a` (dapi §10.1): only f, f_kwargs, from_cluster, wait_for_complete.
    @Test func clusterControlAgentsBecomesAnAgentsListOverEveryNode() throws {
        let req = Self.request("wazuh.core.agent", "Agent.get_agents_overview",
                               ["filters": ["status": "active,disconnected", "node_name": "all"], "limit": nil,
                                "select": ["ip", "status", "node_name", "id", "version", "name"]],
                               extra: ["from_cluster": false, "wait_for_complete": false])
        let r = try DapiRequest(json: req)
        #expect(r.operation == "agents.list" && r.requestType == .distributedMaster && !r.fromCluster)
        #expect(r.arguments["status"] == ["active", "disconnected"] && r.arguments["node_list"] == nil)
        #expect(r.arguments["limit"]?.intValue == Int64(Int32.max) || r.arguments["limit"] == .null)
        #expect(r.reference?.call == ReferenceCall("wazuh.core.agent", "Agent.get_agents_overview"))
        // The reference's field names, as our store names them.
        #expect(r.arguments["select"]?.arrayValue?.contains("connection_status") == true)
        // The operation accepts what the table made of it.
        _ = try OperationRegistry.standard.prepare(r)
        // Naming nodes chooses them.
        let some = try DapiRequest(json: Self.request("wazuh.core.agent", "Agent.get_agents_overview",
                                                      ["filters": ["status": "all", "node_name": "worker-1,worker-2"], "limit": nil]))
        #expect(some.arguments["node_list"] == ["worker-1", "worker-2"] && some.arguments["status"] == nil)
        // The answer: a plain dict, which the reference wraps as a WazuhResult.
        let out = ReferenceCallTable.encode(.result(DapiResult(items: [["id": "001", "name": "a", "connection_status": "active"]], total: 1)), origin: r.reference!)
        #expect(String(decoding: out, as: UTF8.self) == #"{"__wazuh_result__": {"__class__": "WazuhResult", "__object__": {"str_priority": null, "result": {"items": [{"id": "001", "name": "a", "status": "active"}], "totalItems": 1}}}}"#)
    }

    /// The API's `GET /agents` arguments (agent_controller): filters, sort and search dicts.
    @Test func getAgentsTranslatesTheApiArguments() throws {
        let req = Self.request("wazuh.agent", "get_agents",
                               ["agent_list": nil, "offset": 0, "limit": 500, "sort": ["fields": ["name"], "order": "desc"],
                                "search": nil, "select": nil,
                                "filters": ["status": "active", "older_than": nil, "manager": nil, "version": nil, "group": "default",
                                            "node_name": nil, "name": nil, "ip": nil, "registerIP": nil, "group_config_status": nil],
                                "q": nil, "distinct": false],
                               extra: ["request_type": "local_master"])
        let r = try DapiRequest(json: req)
        #expect(r.operation == "agents.list" && r.requestType == .distributedMaster)
        #expect(r.arguments["status"] == ["active"] && r.arguments["group"] == ["default"])
        _ = try OperationRegistry.standard.prepare(r)
        // A filter we cannot honour is refused, naming it, not ignored.
        let older = Self.request("wazuh.agent", "get_agents", ["filters": ["older_than": "7d"]])
        let e = try #require(Self.refusal { try DapiRequest(json: older) })
        #expect(e.code == 3100 && e.message.contains("older_than"))
        let q = try #require(Self.refusal { try DapiRequest(json: Self.request("wazuh.agent", "get_agents", ["q": "os.name=ubuntu"])) })
        #expect(q.message.contains("\"q\""))
    }

    @Test func everyEntryRunsItsOperationAndAnswersInTheReferenceShape() throws {
        let root = try DapiOperationTests.temp()
        var node = try FakeNode(root: root, type: "master", name: "master-node")
        node.nodes = [NodeInfo(name: "master-node", type: "master", version: "4.9.2", ip: "10.0.0.1"),
                      NodeInfo(name: "worker-1", type: "worker", version: "4.9.2", ip: "10.0.0.2")]
        try FileManager.default.createDirectory(at: root.appendingPathComponent("var/run"), withIntermediateDirectories: true)
        try Data().write(to: root.appendingPathComponent("var/run/wazuh-remoted-\(getpid()).pid"))
        try Data().write(to: root.appendingPathComponent("var/run/wazuh-db.failed"))
        try Data("2026/11/27 05:10:33 INFO: [Master] [Main] Listening\n".utf8).write(to: root.appendingPathComponent("logs/cluster.log"))
        func answer(_ module: String, _ qualname: String, _ kwargs: JSON) throws -> [String: Any] {
            let r = try DapiRequest(json: Self.request(module, qualname, kwargs))
            let p = try OperationRegistry.standard.prepare(r)
            let bytes = ReferenceCallTable.encode(.result(try p.run(on: node)), origin: try #require(r.reference))
            return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        }
        func object(_ d: [String: Any]) -> [String: Any]? {
            (d["__wazuh_result__"] as? [String: Any])?["__object__"] as? [String: Any]
        }
        let nodes = try answer("wazuh.cluster", "get_nodes_info",
                               ["filter_node": nil, "offset": 0, "limit": 500, "sort": nil, "search": nil, "select": nil,
                                "filter_type": "all", "q": "", "distinct": false])
        #expect((nodes["__wazuh_result__"] as? [String: Any])?["__class__"] as? String == "AffectedItemsWazuhResult")
        #expect(Set(object(nodes)?.keys.map { $0 } ?? []) == Set(ReferenceEncoding.affectedItemsKeys))
        #expect((object(nodes)?["affected_items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["master-node", "worker-1"])
        #expect(object(nodes)?["all_msg"] as? String == "All selected nodes information was returned")
        let health = try answer("wazuh.cluster", "get_health_nodes", ["filter_node": ["worker-1"]])
        #expect((object(health)?["affected_items"] as? [[String: Any]])?.count == 1)
        let status = try answer("wazuh.cluster", "get_status_json", [:])
        #expect((object(status)?["result"] as? [String: Any])?["data"] as? [String: String] == ["enabled": "yes", "running": "yes"])
        let daemons = try answer("wazuh.manager", "get_status", [:])
        let states = try #require((object(daemons)?["affected_items"] as? [[String: String]])?.first)
        #expect(states["wazuh-clusterd"] == "running" && states["wazuh-remoted"] == "running")
        #expect(states["wazuh-db"] == "failed" && states["wazuh-analysisd"] == "stopped" && states.count == 17)
        let logs = try answer("wazuh.manager", "ossec_log", ["offset": 0, "limit": 10, "sort_by": ["timestamp"], "sort_ascending": false,
                                                           "search_text": nil, "complementary_search": false, "tag": nil, "level": nil])
        let line = try #require((object(logs)?["affected_items"] as? [[String: Any]])?.first)
        #expect(Set(line.keys) == ["timestamp", "tag", "level", "description"] && line["description"] as? String == "Listening")
    }

    /// The reference API's authentication calls: refused at once, with an error a reference
    /// node decodes (3009) and a message that says why.
    @Test func authenticationCallsAreRefusedWithTheReason() throws {
        for name in ["check_token", "get_security_conf", "check_user_master"] {
            let e = try #require(Self.refusal { try DapiRequest(json: Self.request("api.authentication", name, ["token": "x"])) })
            #expect(e.code == 3009 && e.message.contains("security database") && e.message.contains("api.authentication.\(name)"))
            let wire = String(decoding: WireError.payload(e), as: UTF8.self)
            #expect(wire.hasPrefix(#"{"__wazuh_exception__": {"__class__": "WazuhInternalError", "__object__": {"type": "about:blank", "title": "Wazuh Internal Error", "code": 3009, "extra_message": "api.authentication."#))
        }
        // Anything else not in the table: refused as before, naming it.
        let other = try #require(Self.refusal { try DapiRequest(json: Self.request("wazuh.agent", "reconnect_agents", ["agent_list": ["001"]])) })
        #expect(other.code == 3100 && other.message.contains("'wazuh.agent.reconnect_agents' is a code reference"))
    }

    // MARK: toward a reference node

    @Test func namedOperationsAreSentAsCodeReferencesOrNotAtAll() throws {
        var list = DapiRequest(operation: "agents.list", arguments: ["status": ["active"], "limit": 20, "sort": "-name"],
                               requestType: .distributedMaster)
        list.fromCluster = true
        let bytes = try #require(ReferenceCallTable.reverse(list, peer: "ref-1"))
        let sent = try JSON.parse(bytes)
        #expect(sent["f"] == ReferenceCall("wazuh.agent", "get_agents").json)
        #expect(sent["f_kwargs"]?["filters"]?["node_name"] == "ref-1" && sent["f_kwargs"]?["filters"]?["status"] == "active")
        #expect(sent["f_kwargs"]?["sort"] == ["fields": ["name"], "order": "desc"] && sent["from_cluster"] == true)
        #expect(sent.objectValue?.keys == ["f", "f_kwargs", "request_type", "wait_for_complete", "from_cluster", "is_async",
                                          "local_client_arg", "basic_services", "rbac_permissions", "current_user",
                                          "broadcasting", "nodes", "api_timeout"])
        // And the request sent parses back, on a node of ours, to the same operation.
        #expect(try DapiRequest(bytes: bytes).operation == "agents.list")
        #expect(ReferenceCallTable.reverse(DapiRequest(operation: "node.stats"), peer: "ref-1") == nil)
        let e = ReferenceCallTable.notSent("node.stats", peer: "ref-1")
        #expect(e.code == 3103 && e.exit == .unavailable && e.message.contains("reference (Wazuh) node"))
    }

    // MARK: who is on the other end

    @Test func capabilityAnswersAreClassified() throws {
        #expect(PeerKind.classify(command: "err", payload: WireError.unknownCommand(Array("node_caps".utf8))) == .reference)
        let ours = PeerCapabilities.ours
        #expect(PeerKind.classify(command: "ok", payload: ours.payload) == .ours(ours))
        #expect(ours.operations.contains("agents.list") && ours.features.contains("reference_calls"))
        #expect(PeerKind.classify(command: "ok", payload: Array("Response received".utf8)) == .unknown)
        #expect(PeerKind.classify(command: "err", payload: WireError.payload(ClusterError.wazuh(1000))) == .unknown)
        #expect(PeerCapabilities.command.utf8.count <= 11)
    }
}
