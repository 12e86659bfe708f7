import Foundation

/// A real etcd (Debian's etcd-server) for the failover tests: one or three members on loopback
/// ports the OS picks, data in a temporary directory, each member stopped by PID.
final class EtcdCluster: @unchecked Sendable {
    struct Member {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var process: Process?
    }

    let dir: URL
    /// The address every member listens on, and a command that execs etcd (`ip netns exec NS`).
    let host: String
    let prefix: [String]
    private(set) var members: [Member]
    private let lock = NSLock()

    /// The client URLs, as `ha.etcd` takes them.
    var endpoints: [String] { members.map { "http://\(host):\($0.clientPort)" } }

    init(in dir: URL, members count: Int = 1, host: String = "127.0.0.1", prefix: [String] = []) throws {
        self.dir = dir.appendingPathComponent("etcd")
        self.host = host
        self.prefix = prefix
        try FileManager.default.createDirectory(at: self.dir, withIntermediateDirectories: true)
        members = try (0..<count).map { i in
            Member(name: "e\(i)", clientPort: try MetricsTests.freePort(), peerPort: try MetricsTests.freePort())
        }
        for i in members.indices { try start(i) }
        try waitHealthy()
    }

    deinit { stopAll() }

    var initialCluster: String { members.map { "\($0.name)=http://\(host):\($0.peerPort)" }.joined(separator: ",") }

    /// Starts member `i` (again, with its data, after a stop).
    func start(_ i: Int) throws {
        let m = members[i]
        let p = Process()
        let command = prefix + ["/usr/bin/etcd", "--name", m.name, "--data-dir", dir.appendingPathComponent(m.name).path,
                                "--listen-client-urls", "http://\(host):\(m.clientPort)",
                                "--advertise-client-urls", "http://\(host):\(m.clientPort)",
                                "--listen-peer-urls", "http://\(host):\(m.peerPort)",
                                "--initial-advertise-peer-urls", "http://\(host):\(m.peerPort)",
                                "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
                                "--heartbeat-interval", "100", "--election-timeout", "1000"]
        p.executableURL = URL(fileURLWithPath: command[0])
        p.arguments = Array(command.dropFirst())
        let log = dir.appendingPathComponent("\(m.name).log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let h = try FileHandle(forWritingTo: log)
        h.seekToEndOfFile()
        p.standardOutput = h
        p.standardError = h
        try p.run()
        lock.withLock { members[i].process = p }
    }

    /// Stops member `i` by PID (SIGKILL when `hard`).
    func stop(_ i: Int, hard: Bool = false) {
        guard let p = lock.withLock({ () -> Process? in defer { members[i].process = nil }; return members[i].process }) else { return }
        kill(p.processIdentifier, hard ? SIGKILL : SIGTERM)
        p.waitUntilExit()
    }

    func stopAll() { for i in members.indices { stop(i) } }

    /// Waits until a member answers `/health` with true.
    func waitHealthy(timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for m in members where m.process != nil {
                let r = try ToolRunner.shell(prefix.joined(separator: " ") + " curl -s -m 2 http://\(host):\(m.clientPort)/health")
                if r.stdoutText.contains("\"health\":\"true\"") { return }
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw HarnessTimeout(description: "etcd did not become healthy: \(log())")
    }

    /// The index of the member that is etcd's own (raft) leader now, from its status call.
    func raftLeader() throws -> Int? {
        for (i, m) in members.enumerated() where m.process != nil {
            let r = try ToolRunner.shell(prefix.joined(separator: " ") + " curl -s -m 2 -X POST http://\(host):\(m.clientPort)/v3/maintenance/status -d '{}'")
            guard let o = try? JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any],
                  let leader = o["leader"] as? String, let me = (o["header"] as? [String: Any])?["member_id"] as? String else { continue }
            if leader == me { return i }
        }
        return nil
    }

    func log() -> String {
        members.map { (try? String(contentsOf: dir.appendingPathComponent("\($0.name).log"), encoding: .utf8)) ?? "" }
            .joined(separator: "\n").suffix(3000).description
    }
}
