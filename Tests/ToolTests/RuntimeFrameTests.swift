import ClusterKit
import Foundation
import Testing

/// The frames a running worker puts on the wire for hello and keepalive have the layout of the
/// reference's own frames (vectors `frames/hello.json`, `frames/echo_c_keepalive.json`).
@Suite struct RuntimeFrameTests {
    static func vector(_ name: String) throws -> JSON {
        let url = ToolRunner.packageRoot.appendingPathComponent("Tests/ClusterKitTests/Fixtures/wazuh-4.9.2/frames/\(name).json")
        return try JSON.parse([UInt8](try Data(contentsOf: url)))
    }

    @Test func helloAndKeepaliveMatchTheReferenceLayout() throws {
        let h = try ClusterHarness("frames")
        defer { h.stopAll() }
        let server = try FakeMaster()
        defer { server.close() }
        try h.startWorker("worker-1", masterPort: server.port,
                          key: "Wazuh_Golden_Key_0123456789abcde",
                          extra: ["intervals": ["worker": ["keep_alive": 0.5, "sync_integrity": 3600]]])
        let conn = try server.accept(timeout: 30)
        let fernet = Fernet(key: try ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde"))

        let hello = try conn.readMessage(timeout: 30)
        let helloVector = try Self.vector("hello")
        let frame = helloVector["frames"]![0]!
        #expect(hello.raw.count == Int(frame["frame_len"]!.intValue!))
        #expect(String(decoding: hello.raw[8..<20], as: UTF8.self) == frame["command_field"]!.stringValue!)
        #expect(hello.message.frames == 1)
        #expect(try fernet.decrypt(hello.message.payload) == Array(helloVector["payload_utf8"]!.stringValue!.utf8))
        try conn.send(try FrameEncoder(fernet: fernet).encode(command: "ok", counter: hello.message.counter,
                                                              payload: Array("Client worker-1 added".utf8)).bytes)

        // The worker asks for integrity permission only every hour here; the next frame is a keepalive.
        var keepalive = try conn.readMessage(timeout: 30)
        while keepalive.message.command != "echo-c" { keepalive = try conn.readMessage(timeout: 30) }
        let kv = try Self.vector("echo_c_keepalive")
        let kframe = kv["frames"]![0]!
        #expect(keepalive.raw.count == Int(kframe["frame_len"]!.intValue!))
        #expect(String(decoding: keepalive.raw[8..<20], as: UTF8.self) == kframe["command_field"]!.stringValue!)
        #expect(try fernet.decrypt(keepalive.message.payload) == Array("keepalive".utf8))
        // A new request takes the next counter.
        #expect(keepalive.message.counter == hello.message.counter &+ 1 || keepalive.message.counter > hello.message.counter)
    }
}

/// A listening socket that plays the master by hand.
final class FakeMaster {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bind(fd, sp, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, sp, &len) == 0
            }
        }
        guard ok else { throw HarnessTimeout(description: "cannot listen: \(String(cString: strerror(errno)))") }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    func accept(timeout: Double) throws -> FakeConnection {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { throw HarnessTimeout(description: "no connection") }
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { throw HarnessTimeout(description: "accept failed") }
        return FakeConnection(fd: c)
    }

    func close() { Glibc.close(fd) }
}

final class FakeConnection {
    let fd: Int32
    var buffer: [UInt8] = []
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// Reads one whole frame (the runtime never divides these small messages).
    func readMessage(timeout: Double) throws -> (raw: [UInt8], message: ReceivedMessage) {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if buffer.count >= 20 {
                let length = Int(buffer[4]) << 24 | Int(buffer[5]) << 16 | Int(buffer[6]) << 8 | Int(buffer[7])
                if buffer.count >= 20 + length {
                    let raw = Array(buffer[0..<(20 + length)])
                    buffer.removeFirst(20 + length)
                    var d = FrameDecoder()
                    let m = try d.feed(raw)
                    return (raw, m[0])
                }
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline.timeIntervalSinceNow
            guard left > 0, poll(&pfd, 1, Int32(left * 1000)) > 0 else { throw HarnessTimeout(description: "no frame") }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw HarnessTimeout(description: "connection closed") }
            buffer += chunk[0..<n]
        }
    }

    func send(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n == bytes.count else { throw HarnessTimeout(description: "send failed") }
    }
}
