import Foundation
import Testing
@testable import ClusterKit

/// Requests keep the reference's field names, but `f` names a compiled-in operation: nothing is
/// looked up from the wire.
@Suite struct DapiRequestTests {
    static func refusal(_ body: () throws -> Any) -> ClusterError? {
        do { _ = try body(); return nil } catch let e as ClusterError { return e } catch { return nil }
    }

    @Test func minimalRequestTakesTheReferenceDefaults() throws {
        let r = try DapiRequest(json: ["f": "cluster.health"])
        #expect(r.operation == "cluster.health")
        #expect(r.requestType == .localMaster)
        #expect(r.arguments.isEmpty && !r.waitForComplete && !r.fromCluster && !r.broadcasting && r.nodes.isEmpty)
        #expect(r.apiTimeout == nil)
    }

    @Test func roundTripKeepsEveryField() throws {
        let r = DapiRequest(operation: "agents.list", arguments: ["limit": 10, "sort": "name"], requestType: .distributedMaster,
                            waitForComplete: true, fromCluster: true, nodes: ["m", "w1"], apiTimeout: 2.5, broadcasting: true)
        #expect(try DapiRequest(bytes: r.bytes) == r)
        let keys = r.json.objectValue!.keys
        #expect(keys == ["f", "f_kwargs", "request_type", "wait_for_complete", "from_cluster", "broadcasting", "nodes", "api_timeout"])
    }

    /// The reference's full 13-key request, with a name in `f`, is accepted; the caller's RBAC
    /// policies are read for their type and never passed on.
    @Test func referenceFieldsAreAcceptedAndIgnored() throws {
        let text = """
        {"f": "node.stats", "f_kwargs": {}, "request_type": "local_any", "wait_for_complete": false,
         "from_cluster": false, "is_async": false, "local_client_arg": null,
         "basic_services": ["wazuh-modulesd", "wazuh-db"], "rbac_permissions": {"rbac_mode": "black"},
         "current_user": "", "broadcasting": false, "nodes": ["master-node", "worker1"], "api_timeout": 10}
        """
        let r = try DapiRequest(bytes: Array(text.utf8))
        #expect(r.requestType == .localAny && r.apiTimeout == 10 && r.nodes == ["master-node", "worker1"])
        let out = JSONWriter.compact.string(r.json)
        #expect(!out.contains("rbac") && !out.contains("basic_services") && !out.contains("current_user"))
    }

    /// The reference's code references are refused, naming what they would have called.
    @Test func codeReferencesAreRefusedByName() throws {
        let reconnect: JSON = ["f": ["__callable__": ["__name__": "reconnect_agents", "__module__": "wazuh.agent",
                                                      "__qualname__": "reconnect_agents", "__type__": "function"]],
                               "f_kwargs": ["agent_list": ["001", "002"]], "request_type": "distributed_master"]
        let e = try #require(Self.refusal { try DapiRequest(json: reconnect) })
        #expect(e.code == 3100 && e.exit == .dataError)
        #expect(e.message.contains("'wazuh.agent.reconnect_agents'") && e.message.contains("__callable__"))

        let system: JSON = ["f": ["__callable__": ["__name__": "system", "__module__": "os", "__qualname__": "system"]],
                            "f_kwargs": ["command": "touch /tmp/x"]]
        #expect(Self.refusal { try DapiRequest(json: system) }?.message.contains("'os.system'") == true)
        // A static method not in the table: module.qualname.
        let overview: JSON = ["f": ["__callable__": ["__name__": "get_agent_config", "__module__": "wazuh.core.agent",
                                                     "__qualname__": "Agent.get_agent_config"]]]
        #expect(Self.refusal { try DapiRequest(json: overview) }?.message.contains("'wazuh.core.agent.Agent.get_agent_config'") == true)
        // Whatever else is wrong in the request, the code reference is what is reported.
        var bad = reconnect
        bad["surprise"] = 1
        #expect(Self.refusal { try DapiRequest(json: bad) }?.message.contains("code reference") == true)
        // Through the registry, the same.
        #expect(Self.refusal { try OperationRegistry.standard.prepare(JSONWriter.python.bytes(system)) }?.message.contains("'os.system'") == true)
    }

    @Test func nonNameOperationsAreRefused() {
        for f: JSON in [42, ["cluster.health"], true, ["name": "cluster.health"], ""] {
            let e = Self.refusal { try DapiRequest(json: ["f": f]) }
            #expect(e?.code == 3100, "\(f)")
        }
        #expect(Self.refusal { try DapiRequest(json: ["f_kwargs": [:]]) }?.message.contains("\"f\" is missing") == true)
        #expect(Self.refusal { try DapiRequest(bytes: Array("{not json".utf8)) }?.code == 3100)
        #expect(Self.refusal { try DapiRequest(json: ["cluster.health"]) }?.code == 3100)
    }

    @Test func fieldTypesAreChecked() {
        let cases: [(JSON, String)] = [
            (["f": "node.stats", "f_kwargs": [1, 2]], "\"f_kwargs\" must be an object"),
            (["f": "node.stats", "request_type": "local_everywhere"], "unknown request_type \"local_everywhere\""),
            (["f": "node.stats", "request_type": 3], "\"request_type\" must be a string"),
            (["f": "node.stats", "wait_for_complete": "yes"], "\"wait_for_complete\" must be a boolean"),
            (["f": "node.stats", "nodes": [1]], "\"nodes\" must be an array of node names"),
            (["f": "node.stats", "api_timeout": -1], "api_timeout must be above 0"),
            (["f": "node.stats", "api_timeout": "10"], "\"api_timeout\" must be a number"),
            (["f": "node.stats", "rbac_permissions": "allow-all"], "\"rbac_permissions\" must be an object"),
            (["f": "node.stats", "callback": "x"], "unknown request field \"callback\""),
        ]
        for (json, text) in cases {
            let e = Self.refusal { try DapiRequest(json: json) }
            #expect(e?.code == 3100 && e?.message.contains("operation 'node.stats'") == true, "\(json)")
            #expect(e?.message.contains(text) == true, "\(json): \(e?.message ?? "accepted")")
        }
    }

    @Test func registryRefusesUnknownOperationsAndArguments() throws {
        let reg = OperationRegistry.standard
        let unknown = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "os.system", arguments: ["command": "id"])) })
        #expect(unknown.code == 3100 && unknown.message.contains("unknown operation 'os.system'"))
        #expect(unknown.message.contains("cluster.health"))

        let badArg = try #require(Self.refusal { try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["command": "id"])) })
        #expect(badArg.message.contains("operation 'node.stats' takes no argument \"command\""))
        // A reference tag inside the arguments is data, never decoded: here a bad search value.
        let tagged = DapiRequest(operation: "agents.list", arguments: ["search": ["__callable__": ["__module__": "os", "__name__": "system"]]])
        #expect(Self.refusal { try reg.prepare(tagged) }?.message.contains("argument \"search\" needs a string \"value\"") == true)
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "node.logs", arguments: ["level": "loud"])) }?.code == 3100)
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "agents.list", arguments: ["limit": -1])) }?.code == 3100)
        #expect(Self.refusal { try reg.prepare(DapiRequest(operation: "agents.list", arguments: ["sort": 5])) }?.code == 3100)
    }

    @Test func routingKeysAreTakenOutOfTheArguments() throws {
        let reg = OperationRegistry.standard
        let p = try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": ["w1", "w2"]], requestType: .distributedMaster))
        #expect(p.targetNodes == ["w1", "w2"])
        #expect(p.arguments.values.isEmpty)
        #expect(try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": "w1,w2"])).targetNodes == ["w1", "w2"])
        #expect(try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_id": "w3"])).targetNodes == ["w3"])
        #expect(try reg.prepare(DapiRequest(operation: "node.stats", arguments: ["node_list": "*"])).targetNodes == nil)
        // The original request still carries them, for a worker to relay.
        #expect(p.request.arguments["node_list"] != nil)
        let one = p.narrowed(to: ["limit": 5])
        #expect(one.request.fromCluster && one.request.arguments == ["limit": 5] && one.targetNodes == nil)
    }

    @Test func everyOperationIsRegisteredOnce() {
        let names = OperationRegistry.standard.names
        #expect(names == ["agents.list", "agents.summary", "cluster.config", "cluster.health", "cluster.nodes",
                          "cluster.status", "integrity.hash", "node.daemons", "node.logs", "node.stats"])
    }

    @Test func answersTravelAsResultsOrExceptions() throws {
        var r = DapiResult(items: [["id": "001"]], total: 7)
        r.addFailure(ClusterError.wazuh(1701), ids: ["010", "9"])
        let back = DapiAnswer(bytes: DapiAnswer.result(r).bytes)
        #expect(back == .result(r))
        let failure = DapiAnswer(bytes: DapiAnswer.failure(.wazuh(3021, "x")).bytes)
        guard case .failure(let e) = failure else { Issue.record("not a failure"); return }
        #expect(e.code == 3021 && e.message == "Timeout executing API request: x")
        guard case .failure(let junk) = DapiAnswer(bytes: Array("<html>".utf8)) else { Issue.record("accepted junk"); return }
        #expect(junk.code == 3036)
        guard case .failure(let shape) = DapiAnswer(bytes: Array(#"{"data": 1}"#.utf8)) else { Issue.record("accepted a non-result"); return }
        #expect(shape.code == 3036)
    }
}
