import Foundation
import Testing
@testable import ClusterKit

@Suite struct ProtocolTests {
    static func errorVector(_ name: String) throws -> [UInt8] {
        try TestPaths.read(TestPaths.fixtures.appendingPathComponent("wazuh-4.9.2/errors/\(name)"))
    }

    /// The `err` payloads a reference master sends for refused hellos, byte for byte.
    @Test func helloErrorPayloadsMatchTheReference() throws {
        #expect(WireError.payload(.wazuh(3028, "worker1")) == (try Self.errorVector("3028.payload")))
        #expect(WireError.payload(.wazuh(3029)) == (try Self.errorVector("3029.payload")))
        #expect(WireError.payload(.wazuh(3030)) == (try Self.errorVector("3030.payload")))
        #expect(WireError.payload(.wazuh(3031)) == (try Self.errorVector("3031.payload")))
        #expect(WireError.payload(.wazuh(3020, "echo-c")) == (try Self.errorVector("3020.payload")))
        #expect(WireError.payload(.wazuh(3020)) == (try Self.errorVector("3020_bare.payload")))
        #expect(WireError.unknownCommand(Array("bogus_cmd".utf8)) == (try Self.errorVector("unknown_command.payload")))
    }

    /// What the reference's receiver makes of each payload (errors.json → receiver_decodes_to).
    @Test func decodingPeerErrors() throws {
        let index = try JSON.parse(try Self.errorVector("errors.json"))
        for (name, entry) in index.objectValue! {
            guard let expected = entry["receiver_decodes_to"], let file = entry["payload_file"]?.stringValue else { continue }
            let e = WireError.decode(try Self.errorVector(file))
            #expect(e.code == Int(expected["code"]!.intValue!), "\(name)")
            #expect("Error \(e.code) - \(e.message)" == expected["message"]!.stringValue!, "\(name)")
        }
        // Our own failures without a reference code travel as WazuhInternalError 1000.
        let internalError = WireError.decode(WireError.payload(ClusterError.io("disk full")))
        #expect(internalError.code == 1000 && internalError.message.contains("disk full"))
    }

    @Test func replyFramesMatchTheReference() throws {
        let okFrame = try FrameEncoder(fernet: nil).encode(command: "ok", counter: 2001, payload: Array("Client worker1 added".utf8))
        #expect(okFrame.bytes == (try Self.errorVector("hello_ok.frame.bin")))
        let err = try FrameEncoder(fernet: nil).encode(command: "err", counter: 2002, payload: WireError.payload(.wazuh(3028, "worker1")))
        #expect(err.bytes == (try Self.errorVector("3028.frame.bin")))
        let okm = try FrameEncoder(fernet: nil).encode(command: "ok-m ", counter: 2007, payload: Array("keepalive".utf8))
        #expect(okm.bytes == (try Self.errorVector("echo_c_ok_m.frame.bin")))
    }

    @Test func helloParsingAndChecksInTheReferenceOrder() throws {
        let h = try Hello(parsing: Array("worker1 wazuh worker 4.9.2".utf8))
        #expect(h == Hello(nodeName: "worker1", clusterName: "wazuh", nodeType: "worker", version: "4.9.2"))
        #expect(try Hello(parsing: Array("w wazuh client 4.9.2".utf8)).nodeType == "worker")
        #expect(throws: ClusterError.self) { try Hello(parsing: Array("w wazuh worker".utf8)) }
        #expect(throws: ClusterError.self) { try Hello(parsing: Array("w wazuh worker 4.9.2 x".utf8)) }
        #expect(throws: ClusterError.self) { try Hello(parsing: Array("../../etc wazuh worker 4.9.2".utf8)) }
        #expect(throws: ClusterError.self) { try Hello(parsing: Array(".. wazuh worker 4.9.2".utf8)) }
        func code(_ text: String, connected: Set<String> = []) -> Int? {
            do {
                try Hello(parsing: Array(text.utf8)).check(masterName: "master-node", clusterName: "wazuh", version: "4.9.2",
                                                          isConnected: connected.contains)
                return nil
            } catch let e as ClusterError { return e.code } catch { return -1 }
        }
        #expect(code("worker1 wazuh worker 4.9.2") == nil)
        #expect(code("w wazuh client 4.9.2") == nil)
        #expect(code("m2 wazuh master 4.9.2") == 1728)
        #expect(code("m2 wazuh master 4.9.2", connected: ["m2"]) == 1728)
        #expect(code("worker1 wazuh worker 4.9.2", connected: ["worker1"]) == 3028)
        #expect(code("master-node wazuh worker 4.9.2") == 3029)
        #expect(code("worker2 other_cluster worker 4.9.2") == 3030)
        #expect(code("worker3 wazuh worker 4.9.1") == 3031)
        // The duplicate check comes first, as in the reference.
        #expect(code("worker1 other worker 4.9.1", connected: ["worker1"]) == 3028)
    }

    @Test func configurationIsStrict() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func load(_ text: String) throws -> ClusterConfig {
            let url = dir.appendingPathComponent("cluster.json")
            try Data(text.utf8).write(to: url)
            return try ClusterConfig.load(path: url.path)
        }
        let key = "Wazuh_Golden_Key_0123456789abcde"
        let ok = try load(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "w1", "type": "worker", "root": "r", "master": "10.0.0.1"}}"#)
        #expect(ok.masterHost == "10.0.0.1" && ok.masterPort == 1516 && ok.root == dir.appendingPathComponent("r").path)
        #expect(ok.intervals.workerSyncIntegrity == 9 && ok.limits.maxDeleteFraction == 0.5)
        #expect(ok.localSocketPath.hasSuffix("r/queue/cluster/c-internal.sock"))
        #expect(ok.intervals.masterWatchIntegrity && ok.intervals.masterFullIntegrityWalk == 600)
        let unwatched = try load(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "intervals": {"master": {"watch_integrity": false, "full_integrity_walk": 60}}}"#)
        #expect(!unwatched.intervals.masterWatchIntegrity && unwatched.intervals.masterFullIntegrityWalk == 60)
        #expect(ok.limits.maxKeepaliveSkew == 300)
        let skewed = try load(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "limits": {"max_keepalive_skew": 30}}"#)
        #expect(skewed.limits.maxKeepaliveSkew == 30)
        func refused(_ text: String, mentioning key: String) {
            do { _ = try load(text); Issue.record("accepted: \(text)") } catch let e as ClusterError {
                #expect(e.exit == .config, "\(e)")
                #expect(e.message.contains(key), "\(e.message) should name \(key)")
            } catch { Issue.record("\(error)") }
        }
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "w1", "type": "worker", "root": "r", "master": "x", "prot": 1}}"#, mentioning: "node.prot")
        refused(#"{"cluster": {"name": "wazuh", "key": "short"}, "node": {"name": "m", "type": "master", "root": "r"}}"#, mentioning: "cluster.key")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "boss", "root": "r"}}"#, mentioning: "node.type")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "w", "type": "worker", "root": "r"}}"#, mentioning: "node.master")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r", "port": 70000}}"#, mentioning: "node.port")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "intervals": {"worker": {"keep_alive": "soon"}}}"#, mentioning: "intervals.worker.keep_alive")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "limits": {"max_delete_fraction": 2}}"#, mentioning: "limits.max_delete_fraction")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "limits": {"max_keepalive_skew": -1}}"#, mentioning: "limits.max_keepalive_skew")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "intervals": {"master": {"watch_integrity": "yes"}}}"#, mentioning: "intervals.master.watch_integrity")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "m", "type": "master", "root": "r"}, "intervals": {"master": {"full_integrity_walk": 0}}}"#, mentioning: "intervals.master.full_integrity_walk")
        refused(#"{"cluster": {"name": "wazuh", "key": "\#(key)"}, "node": {"name": "../x", "type": "master", "root": "r"}}"#, mentioning: "node.name")
        refused(#"{"cluster": {"name": "wazuh", "key_file": "missing.key"}, "node": {"name": "m", "type": "master", "root": "r"}}"#, mentioning: "cluster.key_file")
    }

    @Test func healthAndNodeQueries() throws {
        let m = NodeInfo(name: "master-node", type: "master", version: "4.9.2", ip: "10.0.0.1")
        let w1 = NodeInfo(name: "worker1", type: "worker", version: "4.9.2", ip: "10.0.0.2")
        let w2 = NodeInfo(name: "worker2", type: "worker", version: "4.9.2", ip: "10.0.0.3")
        let all = try NodeListQuery().apply(to: [m, w1, w2])
        #expect(all["totalItems"] == 3 && all["items"]![0]!["name"] == "master-node")
        var q = NodeListQuery()
        q.filterType = "worker"; q.select = ["name"]; q.limit = 1; q.offset = 1
        let page = try q.apply(to: [m, w1, w2])
        #expect(page["totalItems"] == 2 && page["items"] == [["name": "worker2"]])
        var bad = NodeListQuery(); bad.filterNode = ["nope"]
        #expect(throws: ClusterError.self) { try bad.apply(to: [m]) }
        let nodes = [HealthReport.Node(info: w1, activeAgents: 3, status: WorkerSyncStatus())]
        let master = HealthReport.Node(info: m, activeAgents: 5, status: nil)
        let h = HealthReport.build(master: master, workers: nodes, filter: nil)
        #expect(h["n_connected_nodes"] == 1 && h["nodes"]!["master-node"]!["info"]!["n_active_agents"] == 5)
        #expect(HealthReport.build(master: master, workers: nodes, filter: [:])["nodes"]!["master-node"] == nil)
        #expect(HealthReport.build(master: master, workers: nodes, filter: ["master-node"])["n_connected_nodes"] == 0)
        #expect(HealthReport.nodesTable(all).hasPrefix("NAME         TYPE    VERSION  ADDRESS   \nmaster-node  master  4.9.2    10.0.0.1  \n"))
        #expect(ClusterDate.format(Date(timeIntervalSince1970: 1_730_109_600.15)) == "2024-10-28T10:00:00.150000Z")
        #expect(ClusterDate.duration("2024-10-28T10:00:00.100000Z", "2024-10-28T10:00:00.150000Z") == "0.050s")
    }
}
