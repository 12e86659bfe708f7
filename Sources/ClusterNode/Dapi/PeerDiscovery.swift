import ClusterKit
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What this node found out about the node at the other end of one cluster connection (a
/// worker, for the master; the master, for a worker): asked once after `hello` with
/// `node_caps`, which a reference node answers "unknown command" (`PeerCapabilities`).
final class PeerRecord: Sendable {
    private let discovery = NIOLockedValueBox<EventLoopFuture<PeerKind>?>(nil)

    /// Asks the peer over `conn` (after hello). The answer, or `.unknown` when the question
    /// fails (the connection dropped, no answer within the request timeout).
    func discover(over conn: ClusterConnection, peer: String, logger: Logger) {
        let kind = conn.requestFuture(PeerCapabilities.command, PeerCapabilities.ours.payload)
            .map { PeerKind.classify(command: $0.command, payload: $0.payload) }
            .recover { _ in PeerKind.unknown }
            .map { kind -> PeerKind in
                switch kind {
                case .reference:
                    logger.info("\(peer) is a reference node: distributed API requests go to it as code references from the table, or not at all.")
                case .ours(let c):
                    logger.debug("\(peer) runs \(c.product) \(c.version).")
                case .unknown:
                    logger.info("Could not find out what \(peer) runs; it is treated as a node of ours.")
                }
                return kind
            }
        discovery.withLockedValue { $0 = kind }
    }

    /// The peer's kind once known; `.unknown` at once when discovery never started.
    func kind(on loop: EventLoop) -> EventLoopFuture<PeerKind> {
        discovery.withLockedValue { $0 }?.hop(to: loop) ?? loop.makeSucceededFuture(.unknown)
    }

    func reset() { discovery.withLockedValue { $0 = nil } }

    /// The answer to a peer's `node_caps`: this node's capabilities, with its name and, on a
    /// master under failover, its election term.
    static func answer(_ r: IncomingRequest, node: String, term: Int64? = nil, role: String? = nil) -> Reply {
        var caps = PeerCapabilities.ours
        caps.node = node
        caps.term = term
        caps.role = role
        return .ok(caps.payload)
    }
}
