import ClusterKit

/// cluster.json as an operator (or a mistake) writes it: read, or refused with a message.
enum ClusterConfigTarget {
    static let target = FuzzTarget(name: "cluster-config", summary: "ClusterConfig from JSON") { input in
        guard let json = try? JSON.parse(input) else { return }
        _ = try? ClusterConfig(json: json, baseDirectory: "/nonexistent-fuzz-root", source: "fuzz.json")
    }
}
