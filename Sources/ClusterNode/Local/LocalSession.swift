import ClusterKit

/// What a node answers on its local unix socket (on the client connection's event loop).
public protocol LocalCommandHandler: Sendable {
    func handleLocal(_ request: IncomingRequest, from client: ClusterConnection) throws -> HandlerResult
}

/// The role of one local-socket client connection: it hands every command to the node.
final class LocalSession: ConnectionRole {
    let node: LocalCommandHandler

    init(node: LocalCommandHandler) { self.node = node }

    func handle(_ request: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
        if request.command == ClusterCommand.keepalive {
            return .reply(Reply("ok-m ", request.payload))
        }
        return try node.handleLocal(request, from: connection)
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) {}
}
