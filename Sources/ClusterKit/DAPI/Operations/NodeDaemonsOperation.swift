import Foundation

/// `node.daemons`: the state of the manager's daemons on this node, read as the reference's
/// `wazuh.core.manager.status()` reads it (the node's `var/run`): `failed` when
/// `<daemon>.failed` exists, `restarting` when `.restart` does, `starting` when `<daemon>.start`
/// does, `running` when a `<daemon>-<pid>.pid` names a live process, `failed` when it names a
/// dead one, else `stopped`. `wazuh-clusterd` is this daemon: `running`.
public struct NodeDaemonsOperation: DapiOperation {
    public init() {}
    public var name: String { "node.daemons" }
    public var summary: String { "The state of the manager's daemons on the node (from its var/run)." }
    public var placement: DapiPlacement { .anyNode }
    public var defaultRequestType: DapiRequestType { .localAny }
    public var merge: DapiMergeStrategy { .items(defaultSort: [], tieBreakers: [], alwaysSelected: [], defaultLimit: 500) }
    public var blocking: Bool { true }
    public var argumentNames: Set<String> { [] }

    /// The reference's list, in its order.
    public static let daemons = [
        "wazuh-agentlessd", "wazuh-analysisd", "wazuh-authd", "wazuh-csyslogd", "wazuh-dbd", "wazuh-monitord",
        "wazuh-execd", "wazuh-integratord", "wazuh-logcollector", "wazuh-maild", "wazuh-remoted", "wazuh-reportd",
        "wazuh-syscheckd", "wazuh-clusterd", "wazuh-modulesd", "wazuh-db", "wazuh-apid",
    ]

    /// The states, daemon by daemon, in the reference's order.
    public static func states(runDirectory dir: String, processAlive: (Int32) -> Bool) -> JSONObject {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        func exists(_ name: String) -> Bool { fm.fileExists(atPath: (dir as NSString).appendingPathComponent(name)) }
        var out = JSONObject(minimumCapacity: daemons.count)
        for d in daemons {
            let state: String
            if d == "wazuh-clusterd" {
                state = "running"
            } else if exists("\(d).failed") {
                state = "failed"
            } else if exists(".restart") {
                state = "restarting"
            } else if exists("\(d).start") {
                state = "starting"
            } else if let pid = names.sorted().lazy.compactMap({ pidOf($0, daemon: d) }).first {
                state = processAlive(pid) ? "running" : "failed"
            } else {
                state = "stopped"
            }
            out[d] = .string(state)
        }
        return out
    }

    /// The pid in `<daemon>-<pid>.pid`, as the reference's glob and regex read it.
    static func pidOf(_ file: String, daemon: String) -> Int32? {
        guard file.hasPrefix(daemon + "-"), file.hasSuffix(".pid") else { return nil }
        let digits = file.dropFirst(daemon.count + 1).dropLast(4)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int32(digits)
    }

    public func run(_ args: DapiArguments, on node: DapiNodeContext) throws -> DapiResult {
        let dir = (node.config.root as NSString).appendingPathComponent("var/run")
        let states = NodeDaemonsOperation.states(runDirectory: dir) { pid in
            FileManager.default.fileExists(atPath: "/proc/\(pid)")
        }
        return DapiResult(items: [.object(states)])
    }
}
