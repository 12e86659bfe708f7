import ClusterKit
import Foundation
import Testing

/// `sendsync` as a C daemon on a worker uses it (dapi §4.5, wire §8.5): through a real worker and
/// master to a daemon socket under the master's root, played by a test-owned unix socket server
/// speaking the daemons' framing. What the client reads is compared with the bytes the reference
/// would send it.
@Suite(.serialized) struct SendSyncTests {
    /// authd's answer to an enrolment, as its socket sends it.
    static let authdReply = #"{"error":0,"data":{"id":"001","name":"agent-1","ip":"any","key":"6b1f2a2d0b1c4e5f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f"}}"#
    static let enrolment = #"{"daemon_name":"authd","message":{"function":"add","arguments":{"name":"agent-1","ip":"any"}}}"#

    static func localSocket(_ h: ClusterHarness, _ node: String) -> String {
        h.root(node).appendingPathComponent("queue/cluster/c-internal.sock").path
    }

    /// Sends `sendsync <payload>` on a node's local socket as the C clients do (one frame, a
    /// counter of their own) and reads the one frame that comes back, with how long it took.
    static func sendSync(_ h: ClusterHarness, _ node: String, _ payload: String, counter: UInt32 = 0x0A0B_0C0D,
                         timeout: Double = 60) throws -> (raw: [UInt8], message: ReceivedMessage, seconds: Double) {
        let fd = try RawClient.connect(unixPath: localSocket(h, node))
        let conn = FakeConnection(fd: fd)
        let bytes = Array(payload.utf8)
        let start = Date()
        try conn.send(RawClient.header(counter: counter, length: UInt32(bytes.count), command: "sendsync", divided: false) + bytes)
        let (raw, message) = try conn.readMessage(timeout: timeout)
        return (raw, message, Date().timeIntervalSince(start))
    }

    /// The frame the reference's worker sends its C client: a new request `ok` (or `err`) with
    /// the text as payload; only the counter is the sender's choice.
    static func expectFrame(_ raw: [UInt8], command: String, payload: [UInt8]) {
        let expected = RawClient.header(counter: 0, length: UInt32(payload.count), command: command, divided: false) + payload
        #expect(raw.count == expected.count)
        #expect(Array(raw.dropFirst(4)) == Array(expected.dropFirst(4)),
                "got \(String(decoding: raw.dropFirst(8), as: UTF8.self))")
    }

    static func startCluster(_ h: ClusterHarness, master extra: [String: Any] = [:]) async throws -> Int {
        let port = try await h.startMaster(extra: extra)
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitForLog("worker-1", containing: "Connected to the master")
        return port
    }

    @Test func aDaemonRequestGoesThroughWorkerAndMasterAndItsAnswerComesBack() async throws {
        let h = try ClusterHarness("sendsync")
        defer { h.stopAll() }
        let authd = try FakeDaemon(path: h.root("master-node").appendingPathComponent("queue/sockets/auth").path,
                                   behaviour: .reply(Array(Self.authdReply.utf8)))
        defer { authd.stop() }
        _ = try await Self.startCluster(h)

        let r = try Self.sendSync(h, "worker-1", Self.enrolment)
        Self.expectFrame(r.raw, command: "ok", payload: Array(Self.authdReply.utf8))
        #expect(String(decoding: r.raw[8..<20], as: UTF8.self) == "ok ---------")
        #expect(r.message.counter != 0x0A0B_0C0D, "the answer is a new request, not a reply")
        // authd got the message as the reference's master writes it: json.dumps behind a
        // little-endian length.
        let message = Array(#"{"function": "add", "arguments": {"name": "agent-1", "ip": "any"}}"#.utf8)
        #expect(authd.received == [DaemonSocketFraming.frame(message)])
        #expect(DaemonSocketFraming.frame(message).prefix(4) == [UInt8(message.count), 0, 0, 0])

        // A string message goes as it is.
        let db = try FakeDaemon(path: h.root("master-node").appendingPathComponent("queue/db/wdb").path,
                                behaviour: .reply(Array("ok []".utf8)))
        defer { db.stop() }
        let q = try Self.sendSync(h, "worker-1", #"{"daemon_name": "wazuh-db", "message": "global get-agents-by-connection-status 0 active"}"#)
        Self.expectFrame(q.raw, command: "ok", payload: Array("ok []".utf8))
        #expect(db.received == [DaemonSocketFraming.frame(Array("global get-agents-by-connection-status 0 active".utf8))])
    }

    @Test func aDaemonThatIsNotThereIsAnsweredPromptly() async throws {
        let h = try ClusterHarness("sendsync-missing")
        defer { h.stopAll() }
        let root = h.root("master-node")
        // remoted's socket exists but nobody accepts on it; the task manager's never answers.
        let remoted = try FakeDaemon(path: root.appendingPathComponent("queue/sockets/remote").path, behaviour: .notListening)
        defer { remoted.stop() }
        let tasks = try FakeDaemon(path: root.appendingPathComponent("queue/tasks/task").path, behaviour: .silent)
        defer { tasks.stop() }
        _ = try await Self.startCluster(h, master: ["limits": ["sendsync_timeout": 1]])

        // No socket file (authd): the reference's 1013, at once.
        let missing = try Self.sendSync(h, "worker-1", Self.enrolment, timeout: 10)
        Self.expectFrame(missing.raw, command: "err", payload: Array("Error 1013 - Unable to connect with socket: auth".utf8))
        #expect(String(decoding: missing.raw[8..<20], as: UTF8.self) == "err --------")
        #expect(missing.seconds < 5, "took \(missing.seconds) s")

        let refused = try Self.sendSync(h, "worker-1", #"{"daemon_name": "remoted", "message": {"command": "assigngroup"}}"#, timeout: 10)
        Self.expectFrame(refused.raw, command: "err",
                         payload: Array("Error 1121 - Error connecting with socket: Socket 'remote' cannot receive connections".utf8))
        #expect(refused.seconds < 5, "took \(refused.seconds) s")

        // A daemon that never answers: error 1014 once limits.sendsync_timeout (1 s) has passed.
        let silent = try Self.sendSync(h, "worker-1", #"{"daemon_name": "task-manager", "message": {"command": "upgrade_result"}}"#, timeout: 20)
        Self.expectFrame(silent.raw, command: "err",
                         payload: Array("Error 1014 - Error communicating with socket: no answer from task-manager within 1 s".utf8))
        #expect(silent.seconds >= 0.9 && silent.seconds < 10, "took \(silent.seconds) s")
        #expect(tasks.received.count == 1)
        #expect(h.log("master-node").contains("Error in SendSync (task-manager) from worker-1"))

        // A daemon that hangs up without answering, and one whose answer is over the 1 MiB cap.
        let authd = try FakeDaemon(path: root.appendingPathComponent("queue/sockets/auth").path, behaviour: .hangUp)
        defer { authd.stop() }
        let gone = try Self.sendSync(h, "worker-1", Self.enrolment, timeout: 10)
        Self.expectFrame(gone.raw, command: "err",
                         payload: Array("Error 1014 - Error communicating with socket: authd closed the connection without answering".utf8))
        let db = try FakeDaemon(path: root.appendingPathComponent("queue/db/wdb").path,
                                behaviour: .reply([UInt8](repeating: 0x61, count: (1 << 20) + 1)))
        defer { db.stop() }
        let big = try Self.sendSync(h, "worker-1", #"{"daemon_name": "wazuh-db", "message": "global sql x"}"#, timeout: 10)
        Self.expectFrame(big.raw, command: "err",
                         payload: Array("Error 1014 - Error communicating with socket: the daemon's reply of 1048577 bytes exceeds the 1048576-byte limit".utf8))
    }

    @Test func aDaemonTheReferenceDoesNotRelayIsRefused() async throws {
        let h = try ClusterHarness("sendsync-refused")
        defer { h.stopAll() }
        let port = try await Self.startCluster(h)
        let refusal = Array("Error 1014 - Error communicating with socket: 'wazuh-analysisd'".utf8)

        // From the worker's local socket: refused in the master's words, at once.
        let local = try Self.sendSync(h, "worker-1", #"{"daemon_name": "wazuh-analysisd", "message": "x"}"#, timeout: 10)
        Self.expectFrame(local.raw, command: "err", payload: refusal)

        // From a worker that relays anything (a reference worker): the master acknowledges, then
        // answers sendsyn_err '<client id> <error>'.
        let fernet = Fernet(key: try ClusterKey(text: h.key))
        let peer = try WorkerPeer(port: port, fernet: fernet)
        #expect(try peer.request("hello", "other wazuh worker 4.9.2").text == "Client other added")
        let (ack, requests) = try peer.requestCollecting("sendsync", "524288 {\"daemon_name\": \"wazuh-analysisd\", \"message\": \"x\"}",
                                                         until: { $0.contains { $0.command == "sendsyn_err" } })
        #expect(ack.command == "ok" && ack.text == "Added request to SendSync requests queue")
        let err = try #require(requests.first { $0.command == "sendsyn_err" })
        #expect(err.payload == Array("524288 ".utf8) + refusal)

        // A worker without its master answers the sendsync itself: err 3023, as the reference.
        h.stop("master-node")
        try await h.waitForLog("worker-1", containing: "Reconnecting to the master")
        let alone = try Self.sendSync(h, "worker-1", Self.enrolment, counter: 77, timeout: 10)
        let notConnected = #"{"__wazuh_exception__": {"__class__": "WazuhClusterError", "__object__": {"type": "about:blank", "title": "Wazuh Cluster Error", "code": 3023, "extra_message": null, "extra_remediation": null, "cmd_error": false, "dapi_errors": {}}}}"#
        #expect(alone.message.counter == 77, "a reply to the sendsync itself")
        Self.expectFrame(alone.raw, command: "err", payload: Array(notConnected.utf8))
    }

    /// What our master sends a worker for a daemon's answer is what the reference's master sends:
    /// `new_str <length>`, `str_upd '<string id> <answer>'`, `sendsyn_res '<client id> <string id>'`.
    @Test func theMastersAnswerHasTheReferencesShape() async throws {
        let h = try ClusterHarness("sendsync-shape")
        defer { h.stopAll() }
        let authd = try FakeDaemon(path: h.root("master-node").appendingPathComponent("queue/sockets/auth").path,
                                   behaviour: .reply(Array(Self.authdReply.utf8)))
        defer { authd.stop() }
        // No agent-groups broadcast to this peer while it waits (it would use strings too).
        let port = try await h.startMaster(extra: ["intervals": ["master": ["agent_group_start_delay": 3600]]])
        let peer = try WorkerPeer(port: port, fernet: Fernet(key: try ClusterKey(text: h.key)))
        #expect(try peer.request("hello", "other wazuh worker 4.9.2").command == "ok")
        let (ack, received) = try peer.requestCollecting("sendsync", "77 " + Self.enrolment,
                                                         until: { $0.contains { $0.command == "sendsyn_res" } },
                                                         answer: { $0.command == "new_str" ? "3999430999" : "String updated" })
        // The master also asks the peer what it is (node_caps) after hello; that is not part of
        // the sendsync answer.
        let requests = received.filter { $0.command != "node_caps" }
        #expect(ack.text == "Added request to SendSync requests queue")
        #expect(requests.map(\.command) == ["new_str", "str_upd", "sendsyn_res"])
        #expect(requests[0].payload == Array(String(Self.authdReply.utf8.count).utf8))
        #expect(requests[1].payload == Array("3999430999 \(Self.authdReply)".utf8))
        #expect(requests[2].payload == Array("77 3999430999".utf8))
    }

    /// The reference's tools look for var/run/wazuh-clusterd-<pid>.pid before they use the local
    /// socket: it is there, with the pid, while a daemon runs, and gone once it stopped.
    @Test func thePidFileIsThereWhileTheDaemonRuns() async throws {
        let h = try ClusterHarness("pidfile")
        defer { h.stopAll() }
        // One left by a daemon that was killed: removed at the next start.
        let run = h.root("master-node").appendingPathComponent("var/run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let stale = run.appendingPathComponent("wazuh-clusterd-999999999.pid").path
        _ = FileManager.default.createFile(atPath: stale, contents: Data("999999999\n".utf8))
        _ = try await Self.startCluster(h)
        for node in ["master-node", "worker-1"] {
            let pid = try #require(h.pid(node))
            let path = h.root(node).appendingPathComponent("var/run/wazuh-clusterd-\(pid).pid").path
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(pid)\n")
            let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode == 0o640)
        }
        #expect(!FileManager.default.fileExists(atPath: stale))
        let master = try #require(h.pid("master-node")), worker = try #require(h.pid("worker-1"))
        h.stop("worker-1", signal: SIGINT)
        h.stop("master-node", signal: SIGTERM)
        #expect(!FileManager.default.fileExists(atPath: h.root("worker-1").appendingPathComponent("var/run/wazuh-clusterd-\(worker).pid").path))
        #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("wazuh-clusterd-\(master).pid").path))
    }
}

/// A test-owned daemon socket (authd, wazuh-db, remoted, the task manager): one request per
/// connection, read with the daemons' framing (4-byte little-endian length), answered as told.
final class FakeDaemon: @unchecked Sendable {
    enum Behaviour {
        /// Answers every request with these bytes, framed.
        case reply([UInt8])
        /// Reads the request and never answers.
        case silent
        /// A bound socket nobody listens on (connections are refused).
        case notListening
        /// Reads the request and closes the connection.
        case hangUp
    }

    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var requests: [[UInt8]] = []
    private var open: [Int32] = []
    private var stopped = false
    private var thread: Thread?

    /// Every request received, as it arrived (header included).
    var received: [[UInt8]] { lock.withLock { requests } }

    init(path: String, behaviour: Behaviour) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in Array(path.utf8).prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw HarnessTimeout(description: "bind \(path): \(String(cString: strerror(errno)))") }
        if case .notListening = behaviour { return }
        guard listen(fd, 16) == 0 else { throw HarnessTimeout(description: "listen \(path): \(String(cString: strerror(errno)))") }
        let t = Thread { [self] in serve(behaviour) }
        thread = t
        t.start()
    }

    private func serve(_ behaviour: Behaviour) {
        while !lock.withLock({ stopped }) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            lock.withLock { open.append(c) }
            guard let header = read(c, 4) else { continue }
            let n = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
            guard let body = read(c, n) else { continue }
            lock.withLock { requests.append(header + body) }
            switch behaviour {
            case .reply(let bytes):
                let out = DaemonSocketFraming.frame(bytes)
                _ = out.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            case .hangUp:
                shutdown(c, Int32(SHUT_RDWR))
            case .silent, .notListening:
                break
            }
        }
    }

    private func read(_ c: Int32, _ n: Int) -> [UInt8]? {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < n {
            var pfd = pollfd(fd: c, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 10_000) > 0 else { return nil }
            let got = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress, min($0.count, n - out.count), 0) }
            guard got > 0 else { return nil }
            out += chunk[0..<got]
        }
        return out
    }

    func stop() {
        lock.withLock { stopped = true }
        while thread?.isExecuting == true { usleep(10_000) }
        for c in lock.withLock({ open }) { close(c) }
        close(fd)
        unlink(path)
    }
}

/// A worker by hand, with the key: requests, and the master's own requests collected and
/// answered while waiting.
final class WorkerPeer {
    let fernet: Fernet
    let connection: FakeConnection
    var counter: UInt32 = 5000

    struct Message {
        var counter: UInt32
        var command: String
        var payload: [UInt8]
        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    init(port: Int, fernet: Fernet) throws {
        self.fernet = fernet
        connection = FakeConnection(fd: try RawClient.connect(port: port))
    }

    func send(_ command: String, counter: UInt32, _ payload: [UInt8]) throws {
        try connection.send(try FrameEncoder(fernet: fernet).encode(command: command, counter: counter, payload: payload).bytes)
    }

    func read(timeout: Double = 30) throws -> Message {
        let (_, m) = try connection.readMessage(timeout: timeout)
        return Message(counter: m.counter, command: m.command, payload: try fernet.decrypt(m.payload))
    }

    func request(_ command: String, _ text: String) throws -> Message {
        try requestCollecting(command, text, until: { _ in true }).response
    }

    /// Sends a request; answers the master's requests `ok` (`answer` gives the text) and
    /// collects them, until the response has come and `until` holds for what was collected.
    func requestCollecting(_ command: String, _ text: String, until: ([Message]) -> Bool,
                           answer: (Message) -> String = { _ in "ok" }) throws -> (response: Message, requests: [Message]) {
        counter += 1
        let mine = counter
        try send(command, counter: mine, Array(text.utf8))
        var response: Message?
        var requests: [Message] = []
        while response == nil || !until(requests) {
            let m = try read()
            if m.counter == mine, m.command == "ok" || m.command == "err" {
                response = m
            } else {
                requests.append(m)
                try send("ok", counter: m.counter, Array(answer(m).utf8))
            }
        }
        return (response!, requests)
    }
}
