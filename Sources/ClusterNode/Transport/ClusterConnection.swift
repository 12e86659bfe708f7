import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One cluster connection, either end, TCP or unix socket: the reference's `Handler`.
///
/// Requests and responses share the 20-byte framing; a frame whose command is a response name
/// (`ok`, `err`, `ok-m`, `ok-c`) completes our pending request with the same counter, and is
/// dropped (never answered) when no such request is pending. Everything else is a request,
/// handled in arrival order: the string and file sub-protocols here, the rest by the role.
public final class ClusterConnection: Sendable {
    public let id: UInt64
    public let peerAddress: String
    public let settings: ConnectionSettings
    let channel: Channel
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let encoder: FrameEncoder
    let state: NIOLockedValueBox<State>

    struct Pending {
        var command: String
        var promise: EventLoopPromise<Response>
        var timeout: Scheduled<Void>?
    }

    struct State {
        var counter: UInt32
        var pending: [UInt32: Pending] = [:]
        var strings: [String: InboundString] = [:]
        var files: [String: InboundFile] = [:]
        var receivedFiles: [String: String] = [:]
        var interruptedTasks: Set<String> = []
        var fileInbox: String?
        var role: ConnectionRole?
        var closed = false
        var logger: Logger
        var bytesIn = 0
        var bytesOut = 0
    }

    private static let nextID = NIOLockedValueBox<UInt64>(0)

    init(channel: Channel, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, settings: ConnectionSettings,
         role: ConnectionRole?, peerAddress: String) {
        self.id = ClusterConnection.nextID.withLockedValue { $0 += 1; return $0 }
        self.channel = channel
        self.outbound = outbound
        self.settings = settings
        self.peerAddress = peerAddress
        self.encoder = FrameEncoder(fernet: settings.fernet, requestChunk: settings.requestChunk)
        self.state = NIOLockedValueBox(State(counter: SecureRandom.uint32(), role: role, logger: settings.logger))
    }

    public var logger: Logger { state.withLockedValue { $0.logger } }

    public func setLogger(_ l: Logger) { state.withLockedValue { $0.logger = l } }

    public func setRole(_ role: ConnectionRole) { state.withLockedValue { $0.role = role } }

    /// The only directory (relative to the node root) a peer may send files into.
    public func setFileInbox(_ relativeDirectory: String?) { state.withLockedValue { $0.fileInbox = relativeDirectory } }

    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    public var traffic: (bytesIn: Int, bytesOut: Int) { state.withLockedValue { ($0.bytesIn, $0.bytesOut) } }

    /// Closes the connection; pending requests fail.
    public func close() {
        channel.close(promise: nil)
    }

    // MARK: reading

    /// Reads and handles messages until the peer goes away or the connection is closed.
    func run(_ inbound: NIOAsyncChannelInboundStream<ReceivedMessage>) async {
        var closeError: Error? = nil
        do {
            for try await message in inbound {
                try await process(message)
            }
        } catch is CancellationError {
            // Our own shutdown, not a failure of the link.
        } catch {
            closeError = error
        }
        let (pending, files, role) = state.withLockedValue { s -> ([Pending], [InboundFile], ConnectionRole?) in
            s.closed = true
            let p = Array(s.pending.values)
            s.pending.removeAll()
            let f = Array(s.files.values)
            s.files.removeAll()
            s.strings.removeAll()
            return (p, f, s.role)
        }
        for p in pending {
            p.timeout?.cancel()
            p.promise.fail(ClusterError.wazuh(3018, "connection closed while waiting for '\(p.command)'"))
        }
        for f in files { f.abandon() }
        channel.close(promise: nil)
        await role?.connectionClosed(self, error: closeError)
    }

    private func process(_ message: ReceivedMessage) async throws {
        let payload: [UInt8]
        if let fernet = settings.fernet {
            do {
                payload = try fernet.decrypt(message.payload)
            } catch {
                // The reference closes the connection on a token it cannot decrypt; so do we.
                throw ClusterError.wazuh(3025, "from \(peerAddress) (wrong cluster key?)")
            }
        } else {
            payload = message.payload
        }
        state.withLockedValue { $0.bytesIn += message.payload.count + 20 * message.frames }
        let command = message.command
        if ClusterCommand.responseNames.contains(command) {
            let pending = state.withLockedValue { $0.pending.removeValue(forKey: message.counter) }
            if let pending {
                pending.timeout?.cancel()
                pending.promise.succeed(Response(command: command, payload: payload))
            } else {
                logger.debug("Dropped a '\(command)' frame with counter \(message.counter): no request of ours is waiting for it")
            }
            return
        }
        let request = IncomingRequest(counter: message.counter, command: command, payload: payload)
        let reply: Reply?
        do {
            reply = try await dispatch(request)
        } catch let e as ClusterError {
            logger.debug("Request '\(command)' failed: \(e)")
            reply = .error(e)
        } catch {
            reply = .error(ClusterError.wazuh(1000, "\(error)"))
        }
        if let reply {
            try await send(command: reply.command, counter: message.counter, payload: reply.payload)
        }
    }

    private func dispatch(_ r: IncomingRequest) async throws -> Reply? {
        switch r.command {
        case ClusterCommand.echo: return .ok(r.payload)
        case ClusterCommand.newString: return try receiveNewString(r)
        case ClusterCommand.stringUpdate: return try receiveStringUpdate(r)
        case ClusterCommand.errorString: return receiveErrorString(r)
        case ClusterCommand.newFile: return try await receiveNewFile(r)
        case ClusterCommand.fileUpdate: return try await receiveFileUpdate(r)
        case ClusterCommand.fileEnd: return try await receiveFileEnd(r)
        case ClusterCommand.cancelTask:
            let task = r.splitFirstSpace()?.0 ?? r.text
            state.withLockedValue { _ = $0.interruptedTasks.insert(task) }
            logger.info("The peer cancelled task \(task)")
            return .ok("Request received correctly")
        default:
            guard let role = state.withLockedValue({ $0.role }) else {
                return Reply(ClusterCommand.err, WireError.unknownCommand(Array(r.command.utf8)))
            }
            switch try await role.handle(r, on: self) {
            case .reply(let reply): return reply
            case .noReply: return nil
            case .unknown: return Reply(ClusterCommand.err, WireError.unknownCommand(Array(r.command.utf8)))
            }
        }
    }

    // MARK: writing

    /// Sends one message (all its frames in one write).
    public func send(command: String, counter: UInt32, payload: [UInt8]) async throws {
        let encoded = try payload.withUnsafeBytes {
            try encoder.encode(command: Array(command.utf8), counter: counter, payload: $0)
        }
        let buffer = WireBuffer.make(channel.allocator, encoded)
        state.withLockedValue { $0.bytesOut += buffer.readableBytes }
        do {
            try await outbound.write(buffer)
        } catch {
            throw ClusterError.wazuh(3018, "cannot write to \(peerAddress): connection closed")
        }
    }

    /// Sends a request and waits for its response (at most `timeout`, default the configured
    /// `timeout_cluster_request`). A late response is dropped.
    public func request(_ command: String, _ payload: [UInt8] = [], timeout: Double? = nil) async throws -> Response {
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let seconds = timeout ?? settings.requestTimeout
        let counter: UInt32? = state.withLockedValue { s in
            guard !s.closed else { return nil }
            repeat { s.counter &+= 1 } while s.pending[s.counter] != nil
            s.pending[s.counter] = Pending(command: command, promise: promise, timeout: nil)
            return s.counter
        }
        guard let counter else {
            promise.fail(ClusterError.wazuh(3018, "connection to \(peerAddress) is closed"))
            return try await promise.futureResult.get()
        }
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { [state] in
            if let p = state.withLockedValue({ $0.pending.removeValue(forKey: counter) }) {
                p.promise.fail(ClusterError.wazuh(3020, command))
            }
        }
        state.withLockedValue { s in s.pending[counter]?.timeout = timer }
        do {
            try await send(command: command, counter: counter, payload: payload)
        } catch {
            if let p = state.withLockedValue({ $0.pending.removeValue(forKey: counter) }) {
                p.timeout?.cancel()
                p.promise.fail(error)
            }
        }
        return try await promise.futureResult.get()
    }

    public func request(_ command: String, _ text: String, timeout: Double? = nil) async throws -> Response {
        try await request(command, Array(text.utf8), timeout: timeout)
    }

    /// A request whose `err` answer is thrown as the error the peer sent.
    public func requestOK(_ command: String, _ payload: [UInt8] = [], timeout: Double? = nil) async throws -> Response {
        let r = try await request(command, payload, timeout: timeout)
        if r.command == ClusterCommand.err { throw WireError.decode(r.payload) }
        return r
    }

    public func requestOK(_ command: String, _ text: String, timeout: Double? = nil) async throws -> Response {
        try await requestOK(command, Array(text.utf8), timeout: timeout)
    }

    /// Whether the peer cancelled `task` with `cancel_task`.
    public func isInterrupted(_ task: String) -> Bool { state.withLockedValue { $0.interruptedTasks.contains(task) } }
}
