import ClusterKit
import NIOCore

/// What a role answers to a request the connection's own sub-protocols do not handle.
public enum HandlerResult: Sendable {
    case reply(Reply)
    /// The request is answered later, or never (the reference's local `sendsync`).
    case noReply
    /// Not a command of this role: the reference's plain-text `unknown command` error.
    case unknown
    /// The answer needs blocking work: the connection reads nothing else until it is ready, so
    /// answers still go out in arrival order. `nil` means no reply.
    case later(EventLoopFuture<Reply?>)
}

/// The node-specific half of a connection: the master's view of one worker, the worker's view of
/// its master, a local socket client.
///
/// Both methods run on the connection's event loop. `handle` must not block: what takes time
/// goes to the node's task owner (answered later by a request of our own, as the reference
/// does), or to the thread pool behind `.later`.
public protocol ConnectionRole: AnyObject, Sendable {
    func handle(_ request: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult
    func connectionClosed(_ connection: ClusterConnection, error: Error?)
}
