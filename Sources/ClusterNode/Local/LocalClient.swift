import ClusterKit
import Foundation
import Logging
import NIOCore
import NIOPosix

/// A client of a node's local unix socket, as the CLI tools use it: one request, and for
/// requests a worker forwards to its master, the deferred answer that arrives later as a
/// `control_res` (or `dapi_res`) request from the server.
public final class LocalClient: Sendable {
    public let socketPath: String
    public let timeout: Double
    let group: EventLoopGroup
    let threadPool: NIOThreadPool

    /// `group` and `threadPool` are the process's own (a CLI has one of each).
    public init(socketPath: String, timeout: Double = 200, group: EventLoopGroup, threadPool: NIOThreadPool) {
        self.socketPath = socketPath
        self.timeout = timeout
        self.group = group
        self.threadPool = threadPool
    }

    /// Sends `command` and returns the final answer's payload; a peer error is thrown as the
    /// error it encodes.
    public func request(_ command: String, _ payload: [UInt8]) async throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: socketPath) else {
            throw ClusterError(code: 3012, "Cluster is not running: no local socket at \(socketPath)", exit: .unavailable)
        }
        let settings = ConnectionSettings(fernet: nil, requestTimeout: timeout, frameLimits: .default, maxTransfers: 64,
                                          maxFileBytes: 0, transferTTL: timeout + 60, budget: MemoryBudget(limit: 1 << 30),
                                          stallTimeout: timeout, root: "/", threadPool: threadPool,
                                          logger: Logger(label: "local-client") { _ in SwiftLogNoOpLogHandler() })
        let role = DeferredAnswer()
        let address = Endpoint.Address.unix(path: socketPath)
        let answer: [UInt8]
        do {
            answer = try await Endpoint.connect(address, group: group, settings: settings, role: role) { conn in
                let first = try await conn.requestOK(command, payload)
                // `dapi` and `dapi_fwd` always answer later; get_nodes/get_health when a worker
                // asks its master.
                let deferred = command == ClusterCommand.dapi || command == ClusterCommand.dapiForward
                    || first.text == ClusterCommand.sentToMaster
                guard deferred else { return first.payload }
                return try await role.wait(timeout: self.timeout, on: conn.eventLoop)
            }
        } catch let e as ClusterError where e.code == 3012 {
            throw ClusterError(code: 3012, "Cluster is not running: cannot connect to \(socketPath)", exit: .unavailable)
        }
        if let v = try? JSON.parse(answer), let e = WireError.decode(json: v) { throw e }
        return answer
    }

    public func requestJSON(_ command: String, _ payload: JSON?) async throws -> JSON {
        let bytes = payload.map { JSONWriter.python.bytes($0) } ?? []
        let answer = try await request(command, bytes)
        do { return try JSON.parse(answer, source: "the node's answer to \(command)") } catch {
            throw ClusterError.badData("the node answered \(command) with something that is not JSON: \(String(decoding: answer.prefix(200), as: UTF8.self))")
        }
    }
}

/// Receives the answer a server sends later as a request of its own.
final class DeferredAnswer: ConnectionRole {
    private let answer = OneShot<[UInt8]>()

    func handle(_ r: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
        switch r.command {
        case ClusterCommand.controlResponse:
            answer.succeed(r.payload)
            return .reply(.ok("Response received"))
        case ClusterCommand.dapiResponse:
            answer.succeed(try connection.takeString(r.text))
            return .reply(.ok("Distributed api response received"))
        case ClusterCommand.dapiError:
            // Ours carries the exception JSON; the reference's, plain text.
            answer.succeed(DapiAnswer.errorText(r.payload))
            return .reply(.ok("Response received"))
        default:
            return .unknown
        }
    }

    func wait(timeout: Double, on loop: EventLoop) async throws -> [UInt8] {
        try await answer.wait(timeout: timeout, on: loop,
                              timeoutError: ClusterError.wazuh(3020, "no answer from the node within \(Int(timeout)) s"))
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) {
        answer.fail(ClusterError.unavailable("the node closed the local connection", code: 3018))
    }
}
