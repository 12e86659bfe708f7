import ClusterCLI
import ClusterKit
import ClusterNode

/// What `cl-master run` and `cl-worker run` do around the node itself, in this order: SIGHUP
/// ignored until it can be handled, the configuration read, `node.root` checked (it must exist
/// and be writable), the root's lock taken (one daemon per root) before anything is created or
/// bound, then the log, the signals (SIGTERM/SIGINT stop, SIGHUP reloads) and the node.
public enum DaemonLauncher {
    /// `tool` is this command (`cl-master`), `type` the node type it runs, `wrongType` what to
    /// say when the configuration is for the other one.
    public static func run(tool: String, type: ClusterConfig.NodeType, wrongType: String, node: ConfigOptions, log: LogOptions,
                           _ body: @escaping @Sendable (NodeContext, ShutdownSignal) async throws -> Void) async throws {
        NodeReload.ignoreSignal()
        let config = try node.loadConfig()
        guard config.nodeType == type else {
            throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; \(wrongType)")
        }
        try NodeRoot.check(config.root, tool: tool)
        let lock = try NodeLock.acquire(root: config.root, tool: tool)
        defer { lock.release() }
        let context = try log.context(config)
        let shutdown = ShutdownSignal()
        shutdown.installSignalHandlers()
        NodeReload(context: context, configPath: node.configPath).install()
        do {
            try await body(context, shutdown)
        } catch {
            await context.shutdown()
            throw error
        }
        await context.shutdown()
    }
}
