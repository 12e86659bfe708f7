import ClusterKit
import Foundation
import Testing

/// The master refuses what it must, keeps serving everyone else, and never lets an
/// unauthenticated peer make it hold memory.
@Suite(.serialized) struct ClusterRefusalTests {
    @Test func helloRefusalsWrongKeyAndDuplicates() async throws {
        let h = try ClusterHarness("refusals")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }

        // Same name as a connected worker: 3028.
        try FileManager.default.createDirectory(at: h.root("dup"), withIntermediateDirectories: true)
        try h.writeConfig("dup", type: "worker", master: port)
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.configPath("dup")))) as! [String: Any]
        var node = cfg["node"] as! [String: Any]
        node["name"] = "worker-1"
        cfg["node"] = node
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: h.configPath("dup")))
        try h.start("dup", tool: "cl-worker")
        try await h.waitForLog("dup", containing: "Error 3028 - Worker node ID already exists: worker-1")

        // Another cluster: 3030. Another version: 3031. (The master's own name, 3029, has its own test.)
        try h.startWorker("other-cluster", masterPort: port, cluster: "other")
        try await h.waitForLog("other-cluster", containing: "Error 3030 - Worker does not belong to the same cluster")
        try h.startWorker("old-version", masterPort: port, extra: ["cluster": ["compat_version": "4.9.1"]])
        try await h.waitForLog("old-version", containing: "Error 3031 - Worker and master versions are not the same")

        // A wrong key: the master logs it and closes that connection only.
        try h.startWorker("wrong-key", masterPort: port, key: "A_Completely_Different_Key_12345")
        try await h.waitForLog("master-node", containing: "Error 3025")

        #expect(h.connectedWorkers() == ["worker-1"])
        try h.startWorker("worker-2", masterPort: port)
        try await h.waitUntil("worker-2 connected after all the refusals") { h.connectedWorkers() == ["worker-1", "worker-2"] }
    }

    @Test func masterNameCollisionIs3029() async throws {
        let h = try ClusterHarness("refusal-3029")
        defer { h.stopAll() }
        let port = try await h.startMaster("m1")
        try h.startWorker("m1-as-worker", masterPort: port)
        // Rename the worker to the master's name.
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.configPath("m1-as-worker")))) as! [String: Any]
        var node = cfg["node"] as! [String: Any]
        node["name"] = "m1"
        cfg["node"] = node
        h.stop("m1-as-worker")
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: h.configPath("m1-as-worker")))
        try h.start("m1-as-worker", tool: "cl-worker")
        try await h.waitForLog("m1-as-worker", containing: "Error 3029 - Connected worker with same name as the master")
    }

    /// A hello that says `master` (or anything but a worker) is refused with 1728 before it is
    /// registered: `nodes` keeps one master, and a real worker still connects.
    @Test func helloAsMasterIsRefused() async throws {
        let h = try ClusterHarness("refusal-type")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        let fernet = Fernet(key: try ClusterKey(text: h.key))
        for type in ["master", "Master", "banana"] {
            // The master answers a refused hello, then closes the connection.
            let evil = try KeyedClient(port: port, fernet: fernet)
            defer { close(evil.fd) }
            let r = try evil.request("hello", "evil-\(type) wazuh \(type) 4.9.2")
            #expect(r.command == "err" && r.text.contains("1728"), "\(r.command) \(r.text)")
        }
        try await h.waitForLog("master-node", containing: "Invalid node type")
        let nodes = try #require(try h.query("cl-master", ["nodes"], node: "master-node") as? [String: Any])
        let items = try #require(nodes["items"] as? [[String: Any]])
        #expect(items.filter { $0["type"] as? String == "master" }.count == 1, "\(items)")
        #expect(items.count == 1, "\(items)")
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }
    }

    /// A raw socket claiming a 4 GiB frame is closed at once, before any buffer is allocated.
    @Test func hugeLengthHeaderIsClosedWithoutAllocating() async throws {
        let h = try ClusterHarness("huge")
        defer { h.stopAll() }
        let port = try await h.startMaster()
        let pid = h.pid("master-node")!
        let before = ClusterHarness.rssKiB(pid)
        let fd = try RawClient.connect(port: port)
        defer { close(fd) }
        var header: [UInt8] = [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]
        header += Array("hello ------".utf8)
        try RawClient.send(fd, header)
        #expect(RawClient.readsEOF(fd, timeout: 5), "the master kept the connection open")
        try await h.waitForLog("master-node", containing: "over the")
        let after = ClusterHarness.rssKiB(pid)
        #expect(after - before < 50_000, "RSS grew from \(before) KiB to \(after) KiB")
    }

    /// 1,000 connections that never say hello are all closed at the hello deadline, and the
    /// master's memory stays bounded while they are open.
    @Test func silentConnectionsAreClosedAtTheHelloDeadline() async throws {
        let h = try ClusterHarness("silent")
        defer { h.stopAll() }
        let port = try await h.startMaster(extra: ["limits": ["hello_timeout": 2]])
        let pid = h.pid("master-node")!
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for _ in 0..<1000 { fds.append(try RawClient.connect(port: port)) }
        let rssOpen = ClusterHarness.rssKiB(pid)
        #expect(rssOpen < 150_000, "master RSS \(rssOpen) KiB with 1,000 silent connections")
        var closed = 0
        for fd in fds where RawClient.readsEOF(fd, timeout: 10) { closed += 1 }
        #expect(closed == 1000)
        // It still serves real workers afterwards.
        try h.startWorker("worker-1", masterPort: port)
        try await h.waitUntil("worker-1 connected") { h.connectedWorkers() == ["worker-1"] }
    }
}

/// A blocking TCP client for hand-made bytes.
enum RawClient {
    static func connect(port: Int) throws -> Int32 {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return try connect(family: AF_INET, address: addr, what: "127.0.0.1:\(port)")
    }

    /// A socket of `family` connected to `address` (a `sockaddr_in` or `sockaddr_un`).
    static func connect<A>(family: Int32, address: A, what: String) throws -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessTimeout(description: "socket: \(String(cString: strerror(errno)))") }
        var addr = address
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<A>.size)) }
        }
        guard rc == 0 else { close(fd); throw HarnessTimeout(description: "connect \(what): \(String(cString: strerror(errno)))") }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else { throw HarnessTimeout(description: "send failed") }
    }

    /// Whether the peer closes the connection within `timeout` seconds.
    static func readsEOF(_ fd: Int32, timeout: Double) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < deadline {
            let ms = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, ms) > 0 else { continue }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return true }
        }
        return false
    }
}
