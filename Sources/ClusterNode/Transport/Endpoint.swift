import ClusterKit
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Listening and connecting, TCP or unix socket, with the frame decoder in every pipeline.
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

    typealias ChildChannel = NIOAsyncChannel<ReceivedMessage, ByteBuffer>

    static func initializer(_ limits: FrameLimits) -> @Sendable (Channel) -> EventLoopFuture<ChildChannel> {
        { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(FrameReader(limits: limits))
                return try ChildChannel(wrappingChannelSynchronously: channel)
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

    /// A bound listener. `serve` accepts until `close()`; each connection runs its role.
    public final class Listener: Sendable {
        let server: NIOAsyncChannel<ChildChannel, Never>
        public let address: Address
        let active = NIOLockedValueBox<[UInt64: ClusterConnection]>([:])
        let maxConnections: Int
        let logger: Logger

        init(server: NIOAsyncChannel<ChildChannel, Never>, address: Address, maxConnections: Int, logger: Logger) {
            self.server = server
            self.address = address
            self.maxConnections = maxConnections
            self.logger = logger
        }

        /// The port actually bound (the OS's choice when 0 was asked).
        public var port: Int? { server.channel.localAddress?.port }

        public var connectionCount: Int { active.withLockedValue { $0.count } }

        /// Accepts connections until closed; `makeRole` gives each its role.
        public func serve(settings: ConnectionSettings,
                          makeRole: @escaping @Sendable (ClusterConnection) -> ConnectionRole) async {
            do {
                try await server.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await child in inbound {
                            if connectionCount >= maxConnections {
                                logger.warning("Refused a connection from \(peerDescription(child.channel)): \(maxConnections) connections already open (limits.max_connections)")
                                child.channel.close(promise: nil)
                                continue
                            }
                            group.addTask { await self.run(child, settings: settings, makeRole: makeRole) }
                        }
                    }
                }
            } catch {
                logger.debug("Listener on \(address) stopped: \(error)")
            }
        }

        private func run(_ child: ChildChannel, settings: ConnectionSettings,
                         makeRole: @escaping @Sendable (ClusterConnection) -> ConnectionRole) async {
            let peer = peerDescription(child.channel)
            do {
                try await child.executeThenClose { inbound, outbound in
                    let conn = ClusterConnection(channel: child.channel, outbound: outbound, settings: settings,
                                                 role: nil, peerAddress: peer)
                    conn.setRole(makeRole(conn))
                    active.withLockedValue { $0[conn.id] = conn }
                    await conn.run(inbound)
                    active.withLockedValue { _ = $0.removeValue(forKey: conn.id) }
                }
            } catch {
                logger.debug("Connection from \(peer) ended: \(error)")
            }
        }

        /// Stops accepting and closes every open connection.
        public func close() {
            server.channel.close(promise: nil)
            for c in active.withLockedValue({ Array($0.values) }) { c.close() }
        }
    }

    public static func listen(_ address: Address, group: EventLoopGroup, limits: FrameLimits,
                              maxConnections: Int, logger: Logger) async throws -> Listener {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let server: NIOAsyncChannel<ChildChannel, Never>
        do {
            switch address {
            case .tcp(let host, let port):
                server = try await bootstrap
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: host, port: port, childChannelInitializer: initializer(limits))
            case .unix(let path):
                server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true,
                                                  childChannelInitializer: initializer(limits))
            }
        } catch {
            throw ClusterError.unavailable("cannot listen on \(address): \(error)")
        }
        return Listener(server: server, address: address, maxConnections: maxConnections, logger: logger)
    }

    /// Connects and runs `body` with the connection while its reader runs alongside; returns when
    /// `body` returns (the connection is then closed) or throws.
    public static func connect<T: Sendable>(_ address: Address, group: EventLoopGroup, settings: ConnectionSettings,
                                            role: ConnectionRole?, connectTimeout: Double = 10,
                                            _ body: @escaping @Sendable (ClusterConnection) async throws -> T) async throws -> T {
        let bootstrap = ClientBootstrap(group: group).connectTimeout(.milliseconds(Int64(connectTimeout * 1000)))
        let child: ChildChannel
        do {
            switch address {
            case .tcp(let host, let port):
                child = try await bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: port, channelInitializer: initializer(settings.frameLimits))
            case .unix(let path):
                child = try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer(settings.frameLimits))
            }
        } catch let e as NIOConnectionError {
            let why = e.connectionErrors.first.map { "\($0.error)" } ?? e.dnsAError.map { "\($0)" } ?? "\(e)"
            throw ClusterError.unavailable("cannot connect to \(address): \(why)", code: 3012)
        } catch {
            throw ClusterError.unavailable("cannot connect to \(address): \(error)", code: 3012)
        }
        return try await child.executeThenClose { inbound, outbound in
            let conn = ClusterConnection(channel: child.channel, outbound: outbound, settings: settings, role: role,
                                         peerAddress: address.description)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { await conn.run(inbound); return nil }
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
                        // its closing the connection ended the reader first.
                        throw error
                    }
                }
                guard let result else { throw ClusterError.unavailable("connection to \(address) lost", code: 3018) }
                return result
            }
        }
    }
}
