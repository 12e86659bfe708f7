import ClusterKit
import Foundation
import Testing

/// A worker of ours under a master that answers as the reference's master does, played by hand
/// on the wire: its quirks are taken as the reference's worker takes them.
@Suite(.serialized) struct ReferenceMasterTests {
    static let key = "Wazuh_Golden_Key_0123456789abcde"

    /// A worker connected to a hand-played master that has answered its hello.
    static func connectedWorker(_ h: ClusterHarness, _ server: FakeMaster) throws -> MasterPeer {
        try h.startWorker("worker-1", masterPort: server.port, key: key,
                          extra: ["intervals": ["worker": ["keep_alive": 3600, "sync_integrity": 3600]]],
                          args: ["--log-level", "debug"])
        let peer = MasterPeer(connection: try server.accept(timeout: 30), fernet: Fernet(key: try ClusterKey(text: key)))
        let hello = try peer.read()
        #expect(hello.command == "hello")
        try peer.send("ok", counter: hello.counter, "Client worker-1 added")
        return peer
    }

    /// A reference master fails on `syn_wgc_e` when the worker answers a full agent-groups sync
    /// within the millisecond its send returned (`date_start` is still `n/a`), and answers `err`.
    /// The reference's worker never looks at that answer: the groups are applied, the hashes
    /// recalculated, no `syn_wgc_err` is sent, and nothing is logged as an error.
    @Test func anErrAnswerToTheFullGroupsResultIsOnlyInformation() async throws {
        let h = try ClusterHarness("wgc-err")
        defer { h.stopAll() }
        let server = try FakeMaster()
        defer { server.close() }
        let master = try Self.connectedWorker(h, server)

        let envelope = try AgentGroupsPayload(entries: [AgentGroupsEntry(id: 1, groups: ["default"]),
                                                        AgentGroupsEntry(id: 2, groups: ["default", "web"])], hash: nil).envelope()
        let sid = try master.request("new_str", String(envelope.count)).text
        #expect(try master.request("str_upd", Array("\(sid) ".utf8) + envelope).text == "String updated")
        #expect(try master.request("syn_g_m_w_c", sid).text == sid)

        var result = try master.read()
        while result.command != "syn_wgc_e" { result = try master.read() }
        let sent = try JSON.parse(result.payload)
        #expect(sent["updated_chunks"]?.intValue == 1)
        // What the reference's master answers when strptime fails on 'n/a' (a ValueError).
        let valueError = #"{"__wazuh_exception__": {"__class__": "WazuhInternalError", "__object__": {"type": "about:blank", "title": "Wazuh Internal Error", "code": 1000, "extra_message": "time data 'n/a' does not match format '%Y-%m-%dT%H:%M:%S.%fZ'", "extra_remediation": null, "cmd_error": false, "dapi_errors": {}}}}"#
        try master.send("err", counter: result.counter, valueError)

        try await h.waitForLog("worker-1", containing: "[Agent-groups recv full] Finished in")
        // Nothing more comes: no syn_wgc_err.
        let more = master.readAll(for: 2)
        #expect(!more.contains { $0.command == "syn_wgc_err" }, "\(more.map(\.command))")
        let log = h.log("worker-1")
        #expect(log.contains("DEBUG: [Worker worker-1] [Agent-groups recv full] The master answered syn_wgc_e with an error (the groups are applied): Error 1000 - Wazuh Internal Error: time data 'n/a' does not match format"))
        #expect(log.contains("[Agent-groups recv full] Recalculated the group hashes"))
        #expect(!log.contains("ERROR:"), "\(log.split(separator: "\n").filter { $0.contains("ERROR:") })")
        // The groups are there.
        let agents = try h.query("cl-worker", ["agents", "list"], node: "worker-1") as? [String: Any]
        let groups = (agents?["items"] as? [[String: Any]])?.compactMap { $0["group"] as? [String] }
        #expect(groups == [["default"], ["default", "web"]], "\(String(describing: agents))")
    }

    /// A master that does not relay `sendsync` (ours before this version answered "unknown
    /// command") leaves the reference's C client waiting 20 s; ours answers it `err` at once.
    @Test func aMasterThatDoesNotRelaySendsyncIsAnsweredPromptly() async throws {
        let h = try ClusterHarness("sendsync-old-master")
        defer { h.stopAll() }
        let server = try FakeMaster()
        defer { server.close() }
        let master = try Self.connectedWorker(h, server)
        try await h.waitForLog("worker-1", containing: "Connected to the master")

        let client = Thread.detachNewThreadResult {
            try SendSyncTests.sendSync(h, "worker-1", SendSyncTests.enrolment, timeout: 30)
        }
        var relayed = try master.read()
        while relayed.command != "sendsync" { relayed = try master.read() }
        let (id, body) = try #require(relayed.text.split(separator: " ", maxSplits: 1).map(String.init).pairs)
        #expect(!id.isEmpty && body == SendSyncTests.enrolment)
        try master.send("err", counter: relayed.counter, "unknown command 'b'sendsync''")
        let r = try client.value()
        SendSyncTests.expectFrame(r.raw, command: "err", payload: Array("Error 3000 - Cluster: unknown command 'b'sendsync''".utf8))
        #expect(r.seconds < 5, "took \(r.seconds) s")
    }
}

/// The master's end of a connection, played by hand with the key.
final class MasterPeer {
    let connection: FakeConnection
    let fernet: Fernet
    var counter: UInt32 = 9000

    init(connection: FakeConnection, fernet: Fernet) {
        self.connection = connection
        self.fernet = fernet
    }

    func send(_ command: String, counter: UInt32, _ text: String) throws { try send(command, counter: counter, Array(text.utf8)) }

    func send(_ command: String, counter: UInt32, _ payload: [UInt8]) throws {
        try connection.send(try FrameEncoder(fernet: fernet).encode(command: command, counter: counter, payload: payload).bytes)
    }

    func read(timeout: Double = 30) throws -> WorkerPeer.Message {
        let (_, m) = try connection.readMessage(timeout: timeout)
        return WorkerPeer.Message(counter: m.counter, command: m.command, payload: try fernet.decrypt(m.payload))
    }

    /// Every message that arrives within `seconds`.
    func readAll(for seconds: Double) -> [WorkerPeer.Message] {
        var out: [WorkerPeer.Message] = []
        let end = Date().addingTimeInterval(seconds)
        while end.timeIntervalSinceNow > 0, let m = try? read(timeout: end.timeIntervalSinceNow) { out.append(m) }
        return out
    }

    func request(_ command: String, _ text: String) throws -> WorkerPeer.Message { try request(command, Array(text.utf8)) }

    /// Sends a request and returns its answer (the worker's own requests meanwhile are skipped).
    func request(_ command: String, _ payload: [UInt8]) throws -> WorkerPeer.Message {
        counter += 1
        try send(command, counter: counter, payload)
        while true {
            let m = try read()
            if m.counter == counter, m.command == "ok" || m.command == "err" { return m }
        }
    }
}

extension Array where Element == String {
    var pairs: (String, String)? { count == 2 ? (self[0], self[1]) : nil }
}

extension Thread {
    /// Runs `body` on a new thread; `value()` waits for its result.
    static func detachNewThreadResult<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> ThreadResult<T> {
        let r = ThreadResult<T>()
        Thread.detachNewThread { r.set(Result { try body() }) }
        return r
    }
}

final class ThreadResult<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, Error>?
    func set(_ r: Result<T, Error>) { result = r; done.signal() }
    func value(timeout: Double = 60) throws -> T {
        guard done.wait(timeout: .now() + timeout) == .success, let result else { throw HarnessTimeout(description: "no result") }
        return try result.get()
    }
}
