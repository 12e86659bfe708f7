import ClusterKit
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Listening and connecting, TCP or unix socket. Every pipeline is the same two handlers:
/// `ClusterFrameDecoder` (bytes to messages) and `ConnectionHandler` (the state machine).
public enum Endpoint {
    public enum Address: Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let h, let p): return h.contains(":") ? "[\(h)]:\(p)" : "\(h):\(p)"
            case .unix(let path): return path
            }
        }
    }

    static func peerDescription(_ channel: Channel) -> String {
        switch channel.remoteAddress {
        case .v4(let a)?: return a.host
        case .v6(let a)?: return a.host
        case .unixDomainSocket?: return "local"
        case nil: return "unknown"
        }
    }

    /// Builds a connection's pipeline (on its loop) and returns its front.
    static func install(on channel: Channel, settings: ConnectionSettings, peer: String,
                        role makeRole: (ClusterConnection) -> ConnectionRole?) throws -> ClusterConnection {
        let admission = FrameAdmission(mode: settings.requireHello ? .helloOnly(maxBytes: FrameAdmission.defaultHelloBytes) : .open)
        let decoder = ClusterFrameDecoder(limits: settings.frameLimits, admission: admission, budget: settings.budget)
        let handler = ConnectionHandler(settings: settings, admission: admission, role: nil)
        let connection = ClusterConnection(channel: channel, handler: handler, settings: settings, peerAddress: peer)
        handler.connection = connection
        handler.role = makeRole(connection)
        let ops = channel.pipeline.syncOperations
        // The cumulation never needs more than one frame and one read beyond it.
        try ops.addHandler(ByteToMessageHandler(decoder, maximumBufferSize: settings.frameLimits.maxFrameBytes + (1 << 20)))
        try ops.addHandler(handler)
        return connection
    }

    /// A bound listener: accepts connections until `close()`, each with its role, and refuses
    /// (closes at once) those over `maxConnections`, leaving the rest untouched.
    public final class Listener: Sendable {
        let server: Channel
        public let address: Address
        let state: ListenerState

        init(server: Channel, address: Address, state: ListenerState) {
            self.server = server
            self.address = address
            self.state = state
        }

        /// The port actually bound (the OS's choice when 0 was asked).
        public var port: Int? { server.localAddress?.port }

        public var connectionCount: Int { state.count }

        /// Connections refused for being over the limit, since start.
        public var refusedCount: Int { state.refused }

        /// Stops accepting and starts closing every open connection, without waiting (fencing).
        public func closeNow() {
            server.close(promise: nil)
            for c in state.all { c.close() }
        }

        /// Stops accepting and closes every open connection; returns when the listener is closed.
        public func close() async {
            try? await server.close()
            for c in state.all { c.close() }
        }
    }

    /// What a listener's child channels share: the open connections and the limit.
    final class ListenerState: Sendable {
        private let box = NIOLockedValueBox<(open: [UInt64: ClusterConnection], refused: Int)>(([:], 0))
        let maxConnections: Int

        init(maxConnections: Int) { self.maxConnections = maxConnections }

        var count: Int { box.withLockedValue { $0.open.count } }
        var refused: Int { box.withLockedValue { $0.refused } }
        var all: [ClusterConnection] { box.withLockedValue { Array($0.open.values) } }

        /// Admits a connection unless the listener is full.
        func admit(_ c: ClusterConnection) -> Bool {
            box.withLockedValue { s in
                guard s.open.count < maxConnections else { s.refused += 1; return false }
                s.open[c.id] = c
                return true
            }
        }

        func remove(_ c: ClusterConnection) { box.withLockedValue { _ = $0.open.removeValue(forKey: c.id) } }
    }

    public static func listen(_ address: Address, group: EventLoopGroup, settings: ConnectionSettings,
                              maxConnections: Int, logger: Logger,
                              makeRole: @escaping @Sendable (ClusterConnection) -> ConnectionRole) async throws -> Listener {
        try await listen(address, group: group, settings: { settings }, maxConnections: maxConnections, logger: logger, makeRole: makeRole)
    }

    /// The same, with the settings asked for at each connection (a node's, which a reload may
    /// change: `limits.hello_timeout`, the frame limits, the timeouts).
    public static func listen(_ address: Address, group: EventLoopGroup, settings currentSettings: @escaping @Sendable () -> ConnectionSettings,
                              maxConnections: Int, logger: Logger,
                              makeRole: @escaping @Sendable (ClusterConnection) -> ConnectionRole) async throws -> Listener {
        let state = ListenerState(maxConnections: maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let peer = peerDescription(channel)
                    let connection = try install(on: channel, settings: currentSettings(), peer: peer, role: makeRole)
                    guard state.admit(connection) else {
                        // A flood is logged, not echoed line for line: the 1st, 10th, 100th... refusal.
                        let n = state.refused
                        if n == 1 || (n % 10 == 0 && String(n).dropFirst().allSatisfy { $0 == "0" }) {
                            logger.warning("Refused a connection from \(peer): \(maxConnections) connections already open (limits.max_connections); \(n) refused so far")
                        }
                        connection.handler.value.preAuthReason = .tooManyConnections
                        channel.close(promise: nil)
                        return
                    }
                    channel.closeFuture.whenComplete { _ in state.remove(connection) }
                }
            }
        let server: Channel
        do {
            switch address {
            case .tcp(let host, let port):
                server = try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: host, port: port).get()
            case .unix(let path):
                server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
        } catch {
            throw SocketFailure.listening(on: address, error)
        }
        return Listener(server: server, address: address, state: state)
    }

    /// Connects and runs `body` with the connection; returns when `body` returns (the
    /// connection is then closed) or throws. When the peer goes away first, `body` is cancelled
    /// and the error is a lost connection — unless `body` had already failed with its own.
    public static func connect<T: Sendable>(_ address: Address, group: EventLoopGroup, settings: ConnectionSettings,
                                            role: ConnectionRole?, connectTimeout: Double = 10,
                                            _ body: @escaping @Sendable (ClusterConnection) async throws -> T) async throws -> T {
        let box = NIOLockedValueBox<ClusterConnection?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(Int64(connectTimeout * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let c = try install(on: channel, settings: settings, peer: address.description) { _ in role }
                    box.withLockedValue { $0 = c }
                }
            }
        do {
            switch address {
            case .tcp(let host, let port):
                _ = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: host, port: port).get()
            case .unix(let path):
                _ = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw SocketFailure.connecting(to: address, timeout: connectTimeout, error)
        }
        guard let conn = box.withLockedValue({ $0 }) else {
            throw ClusterError.unavailable("cannot connect to \(address): no connection", code: 3012)
        }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await conn.closed(); return nil }
            group.addTask { defer { conn.close() }; return try await body(conn) }
            var result: T? = nil
            var readerDone = false
            while true {
                do {
                    guard let r = try await group.next() else { break }
                    if let r { result = r } else if result == nil {
                        // The peer went away first: stop the body too.
                        readerDone = true
                        group.cancelAll()
                    }
                } catch is CancellationError where readerDone {
                    throw ClusterError.unavailable("connection to \(address) lost", code: 3018)
                } catch {
                    // The body's own error (an `err` answer it decoded, say) wins even when
                    // its closing the connection ended the wait for the close first.
                    group.cancelAll()
                    throw error
                }
            }
            guard let result else { throw ClusterError.unavailable("connection to \(address) lost", code: 3018) }
            return result
        }
    }
}
