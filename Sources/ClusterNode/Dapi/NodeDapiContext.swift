import ClusterKit
import Foundation

/// What the operations see of the node they run on (ClusterKit's `DapiNodeContext`), built by
/// the master and the worker from their own state.
struct NodeDapiContext: DapiNodeContext {
    let context: NodeContext
    let runtime: DapiRuntime
    let nodes: @Sendable () throws -> [NodeInfo]
    let health: @Sendable (JSON?) throws -> JSON
    let connections: @Sendable () -> JSON
    let agents: @Sendable () throws -> DapiAgentSource

    var config: ClusterConfig { context.config }

    func clusterNodes() throws -> [NodeInfo] { try nodes() }

    func clusterHealth(filter: JSON?) throws -> JSON { try health(filter) }

    var logFile: String { context.path("logs/cluster.log") }

    func agentSource() throws -> DapiAgentSource { try agents() }

    func statistics() -> JSON {
        let now = Date()
        let memory = ProcessMemory.current()
        var o = JSONObject(minimumCapacity: 10)
        o["node"] = .string(config.nodeName)
        o["type"] = .string(config.nodeType.rawValue)
        o["started"] = .string(ClusterDate.format(context.startedAt))
        o["uptime_seconds"] = .double((now.timeIntervalSince(context.startedAt) * 1000).rounded() / 1000)
        o["connections"] = connections()
        o["traffic"] = ["cluster": TrafficCounter.cluster.json, "local": TrafficCounter.local.json]
        o["syncs"] = context.stats.syncsJSON
        o["dapi"] = .object(runtime.load)
        o["memory"] = ["rss_bytes": .int(Int64(memory.rss)), "peak_rss_bytes": .int(Int64(memory.peak))]
        return .object(o)
    }

    static func notMaster(_ what: String) -> ClusterError {
        DapiError.unavailable("\(what) is known to the master only")
    }
}

extension DapiAnswer {
    /// The answer carried by a `dapi_err` text: the exception JSON when it is one (ours), else
    /// the reference's plain text (`str(e)` of what its handler raised, such as `'str' object
    /// has no attribute '__name__'` for a named operation) as 3103: the peer refused.
    static func errorText(_ bytes: [UInt8]) -> [UInt8] {
        if let v = try? JSON.parse(bytes), WireError.decode(json: v) != nil { return bytes }
        return WireError.payload(ClusterError.wazuh(3103, "the peer answered: " + LogText.truncated(String(decoding: bytes, as: UTF8.self), max: 500)))
    }
}
