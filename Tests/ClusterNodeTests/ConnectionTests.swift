import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import ClusterNode

/// A role for tests: a few commands to exercise the connection's machinery.
final class TestRole: ConnectionRole {
    let received = NIOLockedValueBox<[String]>([])

    func handle(_ r: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
        switch r.command {
        case "greet": return .reply(.ok("hello \(r.text)"))
        case "silent": return .noReply
        case "use_str":
            let s = try connection.takeString(r.text)
            received.withLockedValue { $0.append(Digest.sha256Hex(s)) }
            return .reply(.ok(String(s.count)))
        case "use_file":
            guard let path = connection.claimReceivedFile(r.text) else { throw ClusterError.wazuh(3027) }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            received.withLockedValue { $0.append(Digest.sha256Hex(data)) }
            return .reply(.ok(String(data.count)))
        case "fail": throw ClusterError.wazuh(3022, "nobody")
        case "cancel_me":
            // The receiver cancels a transfer the way the reference does: a request of its own.
            _ = connection.requestFuture("cancel_task", Array("\(r.text) too slow".utf8))
            return .reply(.ok("will cancel"))
        default: return .unknown
        }
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) {}
}

struct TestEnvironment {
    let root: URL
    let pool: NIOThreadPool
    let key = try! ClusterKey(text: "Wazuh_Golden_Key_0123456789abcde")

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("node-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        pool = NIOThreadPool.singleton
    }

    /// The default timeout is generous on purpose: the whole suite runs in one process on a
    /// 2-core machine, and the synchronous tool tests can hold both cooperative threads for tens
    /// of seconds, during which the handlers of these connections cannot run. The test that is
    /// about timeouts passes its own.
    func settings(fernet: Bool = true, timeout: Double = 120) -> ConnectionSettings {
        ConnectionSettings(fernet: fernet ? Fernet(key: key) : nil, requestTimeout: timeout, frameLimits: .default,
                           maxTransfers: 8, maxFileBytes: 64 << 20, transferTTL: 60, budget: MemoryBudget(limit: 1 << 30),
                           stallTimeout: 60, root: root.path, threadPool: pool,
                           logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    func cleanup() { try? FileManager.default.removeItem(at: root) }
}

@Suite(.serialized) struct ConnectionTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// Starts a listener whose connections use `role` and accept files into `queue/cluster/w1`.
    func withServer<T>(_ env: TestEnvironment, role: TestRole, fernet: Bool = true,
                       _ body: (Int) async throws -> T) async throws -> T {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let listener = try await Endpoint.listen(.tcp(host: "127.0.0.1", port: 0), group: group, settings: env.settings(fernet: fernet),
                                                 maxConnections: 10, logger: logger) { conn in conn.setFileInbox("queue/cluster/w1"); return role }
        do {
            let result = try await body(listener.port!)
            await listener.close()
            return result
        } catch {
            await listener.close()
            throw error
        }
    }

    @Test func requestsStringsAndErrors() async throws {
        let env = try TestEnvironment()
        defer { env.cleanup() }
        let role = TestRole()
        try await withServer(env, role: role) { port in
            try await Endpoint.connect(.tcp(host: "127.0.0.1", port: port), group: group, settings: env.settings(), role: nil) { conn in
                #expect(try await conn.requestOK("greet", "you").text == "hello you")
                #expect(try await conn.requestOK("echo", "same bytes").text == "same bytes")
                // Unknown command: the reference's plain-text error, decoded as 3000.
                let unknown = try await conn.request("bogus_cmd", "x")
                #expect(unknown.command == "err" && unknown.text == "unknown command 'b'bogus_cmd''")
                do { _ = try await conn.requestOK("fail"); Issue.record("expected an error") } catch let e as ClusterError {
                    #expect(e.code == 3022 && e.message.contains("nobody"))
                }
                // A 12 MB string: divided frames for new_str's slices are not needed (each str_upd
                // is exactly request_chunk), but the string spans three str_upd messages.
                let big = (0..<12_000_000).map { UInt8($0 % 251) }
                let id = try await conn.sendString(big)
                #expect(try await conn.requestOK("use_str", id).text == "12000000")
                #expect(role.received.withLockedValue { $0 } == [Digest.sha256Hex(big)])
                // An id that is unknown or whose string is incomplete is an error, not NUL bytes.
                let partial = try await conn.requestOK("new_str", "10").text
                _ = try await conn.requestOK("str_upd", Array((partial + " abc").utf8))
                let incomplete = try await conn.request("use_str", partial)
                #expect(incomplete.command == "err" && WireError.decode(incomplete.payload).code == 3035)
                // A request nobody answers times out with 3020.
                do { _ = try await conn.request("silent", [], timeout: 0.3); Issue.record("expected a timeout") } catch let e as ClusterError {
                    #expect(e.code == 3020 && e.exit == .tempFail)
                }
                return ()
            }
        }
    }

    @Test func filesAreConfinedAndVerified() async throws {
        let env = try TestEnvironment()
        defer { env.cleanup() }
        let role = TestRole()
        let src = env.root.appendingPathComponent("source.bin")
        let content = SecureRandom.bytes(7_000_000)
        try Data(content).write(to: src)
        try await withServer(env, role: role) { port in
            try await Endpoint.connect(.tcp(host: "127.0.0.1", port: port), group: group, settings: env.settings(), role: nil) { conn in
                try await conn.sendFile(src.path, as: "/queue/cluster/w1/w1-1.zip")
                #expect(try await conn.requestOK("use_file", "queue/cluster/w1/w1-1.zip").text == "7000000")
                #expect(role.received.withLockedValue { $0.last } == Digest.sha256Hex(content))
                // Outside the inbox, traversal, absolute-looking names: refused before anything is written.
                for bad in ["/etc/passwd", "/queue/cluster/w2/x.zip", "/queue/cluster/w1/../../../x", "/queue/cluster/w1/", "queue/cluster/w1/x"] {
                    let r = try await conn.request("new_file", bad)
                    #expect(r.command == "err", "\(bad) was accepted")
                }
                #expect(!FileManager.default.fileExists(atPath: env.root.appendingPathComponent("x").path))
                // A wrong checksum at file_end: refused and the file deleted.
                _ = try await conn.requestOK("new_file", "/queue/cluster/w1/bad.zip")
                _ = try await conn.requestOK("file_upd", Array("/queue/cluster/w1/bad.zip hello".utf8))
                let end = try await conn.request("file_end", Array("/queue/cluster/w1/bad.zip ".utf8) + [UInt8](repeating: 0, count: 32))
                #expect(end.command == "err" && end.text == "File wasn't correctly received. Checksums aren't equal.")
                #expect(!FileManager.default.fileExists(atPath: env.root.appendingPathComponent("queue/cluster/w1/bad.zip").path))
                return ()
            }
        }
    }

    /// A `new_file` over the transfer cap is refused before anything is created: no descriptor
    /// kept open, no empty file left (the old runtime opened the file first).
    @Test func refusedFileLeavesNothingBehind() async throws {
        let env = try TestEnvironment()
        defer { env.cleanup() }
        try await withServer(env, role: TestRole()) { port in
            try await Endpoint.connect(.tcp(host: "127.0.0.1", port: port), group: group, settings: env.settings(), role: nil) { conn in
                for _ in 0..<8 { _ = try await conn.requestOK("new_str", "10") }
                let r = try await conn.request("new_file", "/queue/cluster/w1/over.zip")
                #expect(r.command == "err")
                #expect(!FileManager.default.fileExists(atPath: env.root.appendingPathComponent("queue/cluster/w1/over.zip").path))
                return ()
            }
        }
    }

    /// A send the receiver cancels stops after the chunk in flight and says how many bytes got
    /// through, which the adaptive container size needs (the old code reported none).
    @Test func interruptedSendSaysHowFarItGot() async throws {
        let env = try TestEnvironment()
        defer { env.cleanup() }
        let src = env.root.appendingPathComponent("big.bin")
        try Data(SecureRandom.bytes(12_000_000)).write(to: src)
        try await withServer(env, role: TestRole()) { port in
            try await Endpoint.connect(.tcp(host: "127.0.0.1", port: port), group: group, settings: env.settings(), role: nil) { conn in
                _ = try await conn.requestOK("cancel_me", "task-1")
                do {
                    try await conn.sendFile(src.path, as: "/queue/cluster/w1/big.zip", task: "task-1")
                    Issue.record("the send was not interrupted")
                } catch let e as FileSendError {
                    #expect(e.underlying.code == 3039)
                    let chunk = FrameEncoder.defaultRequestChunk - "/queue/cluster/w1/big.zip".utf8.count - 1
                    #expect(e.bytesSent == chunk)
                }
                return ()
            }
        }
    }

    /// A response-typed frame for a counter nobody waits for is dropped, never answered (the
    /// reference answers it with `err`, and two reference peers then bounce errors forever).
    @Test func strayResponsesAreDroppedAndBadTokensClose() async throws {
        let env = try TestEnvironment()
        defer { env.cleanup() }
        try await withServer(env, role: TestRole()) { port in
            let fernet = Fernet(key: env.key)
            let stray = try FrameEncoder(fernet: fernet).encode(command: "err", counter: 424242, payload: Array("boom".utf8))
            let greet = try FrameEncoder(fernet: fernet).encode(command: "greet", counter: 7, payload: Array("x".utf8))
            let answer = try RawSocket.exchange(port: port, send: stray.bytes + greet.bytes, readFrames: 1)
            #expect(answer.count == 1 && answer[0].counter == 7 && answer[0].command == "ok")
            // A token made with another key: the connection is closed, nothing is answered.
            let other = Fernet(key: try ClusterKey(text: ClusterKey.generateText()))
            let forged = try FrameEncoder(fernet: other).encode(command: "greet", counter: 8, payload: Array("x".utf8))
            #expect(try RawSocket.exchange(port: port, send: forged.bytes, readFrames: 1).isEmpty)
        }
    }
}

/// A plain blocking TCP client for sending hand-made bytes.
enum RawSocket {
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw ClusterError.unavailable("connect failed: \(errnoDescription(errno))") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Sends `bytes`, then reads until `readFrames` messages arrived, EOF, or 5 s passed.
    static func exchange(port: Int, send bytes: [UInt8], readFrames: Int) throws -> [ReceivedMessage] {
        let fd = try connect(port: port)
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        var decoder = FrameDecoder()
        var got: [ReceivedMessage] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while got.count < readFrames {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            got += try decoder.feed(Array(buf[0..<n]))
        }
        return got
    }
}
