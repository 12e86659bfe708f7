import ClusterKit

/// What a role answers to a request the connection's own sub-protocols do not handle.
public enum HandlerResult: Sendable {
    case reply(Reply)
    /// The request is answered later, or never (the reference's local `sendsync`).
    case noReply
    /// Not a command of this role: the reference's plain-text `unknown command` error.
    case unknown
}

/// The node-specific half of a connection: the master's view of one worker, the worker's view of
/// its master, a local socket client. Handlers must answer promptly: long work goes to a task of
/// its own, because requests on one connection are handled in arrival order.
public protocol ConnectionRole: AnyObject, Sendable {
    func handle(_ request: IncomingRequest, on connection: ClusterConnection) async throws -> HandlerResult
    func connectionClosed(_ connection: ClusterConnection, error: Error?) async
}
