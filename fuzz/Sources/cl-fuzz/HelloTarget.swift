import ClusterKit

/// The hello a stranger sends before anything else, and the master's checks of it.
enum HelloTarget {
    static let target = FuzzTarget(name: "hello", summary: "Hello parsing and checks") { input in
        guard let h = try? Hello(parsing: [UInt8](input)) else { return }
        require(NodeName.isValid(h.nodeName), "hello accepted the node name '\(h.nodeName)'")
        _ = try? h.check(masterName: "master", clusterName: "wazuh", version: "4.9.2", isConnected: { $0 == "worker-1" })
    }
}
