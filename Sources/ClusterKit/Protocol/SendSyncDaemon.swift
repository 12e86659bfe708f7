/// The daemons a worker may reach on its master through `sendsync` (dapi §4.5): exactly the
/// reference's table (`wazuh_socket.daemons`, 4.9.2). Each listens on a unix stream socket under
/// the node root and speaks `DaemonSocketFraming`. Any other name is refused.
public enum SendSyncDaemon: String, CaseIterable, Sendable {
    /// Agent enrolment and removal (`queue/sockets/auth`).
    case authd
    /// Upgrade and other agent tasks (`queue/tasks/task`).
    case taskManager = "task-manager"
    /// The manager's database (`queue/db/wdb`).
    case wazuhDB = "wazuh-db"
    /// Group assignment through remoted (`queue/sockets/remote`).
    case remoted

    /// The daemon's socket, relative to the node root (the reference's `common.*_SOCKET`).
    public var socketPath: String {
        switch self {
        case .authd: return "queue/sockets/auth"
        case .taskManager: return "queue/tasks/task"
        case .wazuhDB: return "queue/db/wdb"
        case .remoted: return "queue/sockets/remote"
        }
    }

    /// The socket's file name, which the reference's connection errors name.
    public var socketName: String { String(socketPath.split(separator: "/").last!) }
}
