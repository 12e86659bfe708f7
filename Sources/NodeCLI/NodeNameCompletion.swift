import ClusterKit
import ClusterNode
import Foundation
import NIOPosix

/// Completes node names for `--nodes`: asks the running node (the one the command line's
/// --config or --socket names, else the default configuration) through its local socket, with a
/// short deadline. No node running, no names: completion must never hang or fail loudly.
public enum NodeNameCompletion {
    public static func names(words: [String], prefix: String) async -> [String] {
        guard let socket = socketPath(words) else { return [] }
        let client = LocalClient(socketPath: socket, timeout: 1, group: MultiThreadedEventLoopGroup.singleton,
                                 threadPool: NIOThreadPool.singleton)
        let query: JSON = ["filter_node": nil, "offset": 0, "limit": 500, "sort": nil, "search": nil, "select": nil,
                           "filter_type": "all", "distinct": false]
        guard let answer = try? await client.requestJSON(ClusterCommand.getNodes, query) else { return [] }
        let names = (answer["items"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        // A comma-separated list: complete its last element, keeping the ones before it.
        let done = prefix.lastIndex(of: ",").map { String(prefix[...$0]) } ?? ""
        let taken = Set(done.split(separator: ",").map(String.init))
        return names.filter { !taken.contains($0) }.map { done + $0 }
    }

    static func socketPath(_ words: [String]) -> String? {
        func value(_ names: [String]) -> String? {
            for (i, w) in words.enumerated() {
                for n in names {
                    if w == n, i + 1 < words.count { return words[i + 1] }
                    if w.hasPrefix(n + "=") { return String(w.dropFirst(n.count + 1)) }
                }
            }
            return nil
        }
        if let socket = value(["--socket"]) { return socket }
        let path = value(["-c", "--config"]) ?? ProcessInfo.processInfo.environment["CLUSTERTOOLS_CONFIG"] ?? ConfigOptions.defaultPath
        return try? ClusterConfig.load(path: path).localSocketPath
    }
}
