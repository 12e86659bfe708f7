/// The `hello` handshake payload, `"<node> <cluster> <type> <version>"`, and the master's checks.
public struct Hello: Sendable, Equatable {
    public var nodeName: String
    public var clusterName: String
    public var nodeType: String
    public var version: String

    public init(nodeName: String, clusterName: String, nodeType: String, version: String) {
        self.nodeName = nodeName
        self.clusterName = clusterName
        self.nodeType = nodeType
        self.version = version
    }

    public var payload: [UInt8] { Array("\(nodeName) \(clusterName) \(nodeType) \(version)".utf8) }

    /// Parses a hello as the reference does: exactly four space-separated fields; anything else is
    /// error 1000 as the reference's ValueError is. The node name must also be usable as a
    /// directory name (`queue/cluster/<name>/`), which the reference never checks.
    public init(parsing payload: [UInt8]) throws {
        guard let text = String(validating: payload, as: UTF8.self) else {
            throw ClusterError.wazuh(1000, "hello payload is not UTF-8")
        }
        let fields = text.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 4 else {
            throw ClusterError.wazuh(1000, fields.count < 4 ? "not enough values to unpack (expected 4, got \(fields.count))"
                                                            : "too many values to unpack (expected 4)")
        }
        nodeName = String(fields[0])
        clusterName = String(fields[1])
        nodeType = String(fields[2]) == "client" ? "worker" : String(fields[2])
        version = String(fields[3])
        try NodeName.validate(nodeName)
    }

    /// The master's checks, in the reference's order (3028 duplicate, 3029 master's own name,
    /// 3030 other cluster, 3031 version), all made *before* the worker is registered. First, one
    /// the reference lacks: a node that says hello to the master must call itself a worker
    /// (`client`, the legacy name, was rewritten to it). The reference stores any type, so a
    /// hello saying `master` made `nodes` list two masters; it is refused with 1728.
    public func check(masterName: String, clusterName expectedCluster: String, version expectedVersion: String,
                      isConnected: (String) -> Bool) throws {
        guard nodeType == "worker" else {
            throw ClusterError.wazuh(1728, "'\(nodeType.prefix(64))': only a worker says hello to the master")
        }
        if isConnected(nodeName) { throw ClusterError.wazuh(3028, nodeName) }
        if nodeName == masterName { throw ClusterError.wazuh(3029) }
        if clusterName != expectedCluster { throw ClusterError.wazuh(3030) }
        if version != expectedVersion { throw ClusterError.wazuh(3031) }
    }
}

/// Node and cluster names: the reference's C_VALID character set, with the names that would
/// escape `queue/cluster/` refused.
public enum NodeName {
    static let allowed = Set("!\"#$%&'-.0123456789:<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_abcdefghijklmnopqrstuvwxyz{|}~".utf8)
    public static let maxLength = 128

    public static func validate(_ name: String, what: String = "node name") throws {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw ClusterError.wazuh(1000, "empty \(what)") }
        guard bytes.count <= maxLength else { throw ClusterError.wazuh(1000, "\(what) longer than \(maxLength) bytes") }
        guard bytes.allSatisfy(allowed.contains) else {
            throw ClusterError.wazuh(1000, "\(what) '\(name)' has a character outside A-Z a-z 0-9 and !\"#$%&'-.:<=>?[\\]^_{|}~")
        }
        guard name != "." && name != ".." else { throw ClusterError.wazuh(1000, "\(what) '\(name)' is not allowed") }
    }

    public static func isValid(_ name: String) -> Bool { (try? validate(name)) != nil }
}
