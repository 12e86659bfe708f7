/// The reference's error codes that cross the wire or that we raise with the same meaning.
///
/// The reference never sends the human message: a receiver rebuilds it from the code, so the base
/// messages here are the reference's own wording (exception.py, 4.9.2) for the codes we speak.
public enum WazuhErrorCatalog {
    public struct Entry: Sendable {
        public let message: String
        public let exit: ExitStatus
        /// The exception class the reference uses for this code on the wire.
        public let wazuhClass: String
    }

    public static func entry(_ code: Int) -> Entry {
        table[code] ?? Entry(message: "Wazuh error \(code)", exit: .software, wazuhClass: "WazuhException")
    }

    public static func message(_ code: Int) -> String { entry(code).message }

    static let table: [Int: Entry] = [
        1000: Entry(message: "Wazuh Internal Error", exit: .software, wazuhClass: "WazuhInternalError"),
        1013: Entry(message: "Unable to connect with socket", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        1014: Entry(message: "Error communicating with socket", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        1017: Entry(message: "Some Wazuh daemons are not ready yet", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        1121: Entry(message: "Error connecting with socket", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        1724: Entry(message: "Not a valid select field", exit: .usage, wazuhClass: "WazuhError"),
        1728: Entry(message: "Invalid node type", exit: .usage, wazuhClass: "WazuhError"),
        1730: Entry(message: "Node does not exist", exit: .usage, wazuhClass: "WazuhResourceNotFound"),
        1701: Entry(message: "Agent does not exist", exit: .dataError, wazuhClass: "WazuhResourceNotFound"),
        3000: Entry(message: "Cluster", exit: .software, wazuhClass: "WazuhClusterError"),
        3001: Entry(message: "Error creating zip file", exit: .software, wazuhClass: "WazuhClusterError"),
        3004: Entry(message: "Error in cluster configuration", exit: .config, wazuhClass: "WazuhClusterError"),
        3007: Entry(message: "Client.keys file received in master node", exit: .dataError, wazuhClass: "WazuhClusterError"),
        // The reference raises it when its local client cannot reach the cluster daemon: the
        // request was not run, not a fault of ours.
        3009: Entry(message: "Error executing distributed API request", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        3012: Entry(message: "Cluster is not running", exit: .unavailable, wazuhClass: "WazuhInternalError"),
        3013: Entry(message: "Cluster is not running, it might be disabled in `WAZUH_HOME/etc/ossec.conf`", exit: .unavailable, wazuhClass: "WazuhError"),
        3016: Entry(message: "Received an error response", exit: .software, wazuhClass: "WazuhClusterError"),
        3018: Entry(message: "Error sending request", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3020: Entry(message: "Timeout sending request", exit: .tempFail, wazuhClass: "WazuhClusterError"),
        3021: Entry(message: "Timeout executing API request", exit: .tempFail, wazuhClass: "WazuhInternalError"),
        3022: Entry(message: "Unknown node ID", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3023: Entry(message: "Worker node is not connected to master", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3024: Entry(message: "Length of command exceeds limit defined in wazuh.cluster.common.Handler.cmd_len", exit: .usage, wazuhClass: "WazuhClusterError"),
        3025: Entry(message: "Could not decrypt message", exit: .dataError, wazuhClass: "WazuhClusterError"),
        3026: Entry(message: "Error sending request: Memory error. Request chunk size divided by 2", exit: .software, wazuhClass: "WazuhClusterError"),
        3027: Entry(message: "Unknown received task name", exit: .dataError, wazuhClass: "WazuhClusterError"),
        3028: Entry(message: "Worker node ID already exists", exit: .noPermission, wazuhClass: "WazuhClusterError"),
        3029: Entry(message: "Connected worker with same name as the master", exit: .noPermission, wazuhClass: "WazuhClusterError"),
        3030: Entry(message: "Worker does not belong to the same cluster", exit: .noPermission, wazuhClass: "WazuhClusterError"),
        3031: Entry(message: "Worker and master versions are not the same", exit: .noPermission, wazuhClass: "WazuhClusterError"),
        3032: Entry(message: "Could not forward DAPI request. Connection not available", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3034: Entry(message: "Error sending file. File not found", exit: .noInput, wazuhClass: "WazuhClusterError"),
        3035: Entry(message: "String couldn't be found", exit: .dataError, wazuhClass: "WazuhClusterError"),
        3036: Entry(message: "JSON couldn't be loaded", exit: .dataError, wazuhClass: "WazuhClusterError"),
        3037: Entry(message: "Error while processing Agent-info chunks", exit: .software, wazuhClass: "WazuhClusterError"),
        3038: Entry(message: "Error while processing extra-valid files", exit: .software, wazuhClass: "WazuhClusterError"),
        3039: Entry(message: "Timeout while waiting to receive a file", exit: .tempFail, wazuhClass: "WazuhClusterError"),
        3040: Entry(message: "Error while waiting to receive a file", exit: .software, wazuhClass: "WazuhClusterError"),
        // Ours (no reference code fits): the distributed API runs registered operations only.
        3100: Entry(message: "Distributed API request refused", exit: .dataError, wazuhClass: "WazuhError"),
        3101: Entry(message: "Distributed API operation not available on this node", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3102: Entry(message: "Too many distributed API requests waiting on this node", exit: .tempFail, wazuhClass: "WazuhClusterError"),
        // A reference (Wazuh) node refused a request, or one of our operations has no code
        // reference to send it: a refusal by the peer, not an internal error.
        3103: Entry(message: "Distributed API request refused by a reference node", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        // Ours: master failover (docs/HA.md).
        3110: Entry(message: "This master is not the leader", exit: .unavailable, wazuhClass: "WazuhClusterError"),
        3111: Entry(message: "Master failover is not configured on this node", exit: .config, wazuhClass: "WazuhClusterError"),
    ]
}
