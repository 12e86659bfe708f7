import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What a running node (master or worker) is built from: its configuration, the event loops,
/// the thread pool for blocking work, and the log.
public final class NodeContext: Sendable {
    /// The configuration in force. A reload (SIGHUP, `NodeReload`) replaces its `intervals` and
    /// `limits`; everything reads it at each use, so the next cycle or connection sees the change.
    public var config: ClusterConfig { current.withLockedValue { $0 } }
    private let current: NIOLockedValueBox<ClusterConfig>
    public let group: MultiThreadedEventLoopGroup
    public let threadPool: NIOThreadPool
    /// Where blocking distributed API operations run: `limits.dapi_concurrency` threads.
    public let dapiPool: NIOThreadPool
    public let sink: LogSink?
    public let logLevel: Logger.Level
    public let startedAt = Date()
    /// Sync and request counters (`node.stats`).
    public let stats = NodeStats()
    /// The owner of every background task the node starts.
    public let tasks = TaskOwner()
    /// What the cluster link's peers together may make the node hold.
    public let clusterBudget: MemoryBudget
    /// What the local socket's clients together may make the node hold.
    public let localBudget: MemoryBudget

    public init(config: ClusterConfig, logFormat: LogFormat = .text, logLevel: Logger.Level = .info,
                logToStderr: Bool = true, logToFile: Bool = true, stderrJSON: Bool = false) throws {
        // Nothing is created under a root that does not exist (a mistyped node.root).
        try NodeRoot.check(config.root)
        current = NIOLockedValueBox(config)
        self.logLevel = logLevel
        if config.metricsListen != nil { NodeMetrics.bootstrap() }
        sink = try LogSink(format: logFormat, file: logToFile ? (config.root as NSString).appendingPathComponent("logs/cluster.log") : nil,
                           toStderr: logToStderr, stderrJSON: stderrJSON)
        clusterBudget = MemoryBudget(limit: config.limits.maxBufferedBytes)
        localBudget = MemoryBudget(limit: max(config.limits.localClientBytes * 4, config.limits.maxBufferedBytes / 4))
        HeapRelease.limitArenas()
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, min(System.coreCount, 4)))
        threadPool = NIOThreadPool(numberOfThreads: max(2, System.coreCount))
        threadPool.start()
        dapiPool = NIOThreadPool(numberOfThreads: config.limits.dapiConcurrency)
        dapiPool.start()
    }

    /// Puts a reloaded configuration in force (see `NodeReload`).
    func replaceConfig(_ config: ClusterConfig) { current.withLockedValue { $0 = config } }

    public func logger(_ tag: String) -> Logger { Logger.cluster(tag, sink: sink, level: logLevel) }

    public func path(_ relative: String) -> String { (config.root as NSString).appendingPathComponent(relative) }

    /// Settings for the cluster TCP link.
    public func clusterSettings(_ logger: Logger) -> ConnectionSettings {
        ConnectionSettings.cluster(config, budget: clusterBudget, threadPool: threadPool, logger: logger)
    }

    /// Settings for the local socket.
    public func localSettings(_ logger: Logger) -> ConnectionSettings {
        ConnectionSettings.local(config, budget: localBudget, threadPool: threadPool, logger: logger)
    }

    /// Closes the loops and pools. Call it after the node's `run` has returned: by then every
    /// task it owned has ended, so nothing runs on them any more.
    public func shutdown() async {
        try? await group.shutdownGracefully()
        try? await threadPool.shutdownGracefully()
        try? await dapiPool.shutdownGracefully()
    }

    /// Creates the node's directories and clears `queue/cluster/` (keeping the socket), as the
    /// reference does at start-up. Blocking: called before the node serves anything.
    func prepareDirectories() throws {
        let queue = path("queue/cluster")
        try FileSystem.makeDirectory(queue, mode: 0o770)
        FileSystem.clearDirectory(queue, keeping: [(config.localSocket as NSString).lastPathComponent])
        try FileSystem.makeDirectory(path("var/run"), mode: 0o750)
        try FileSystem.makeDirectory(path("logs"), mode: 0o750)
        try FileSystem.makeDirectory((config.localSocketPath as NSString).deletingLastPathComponent, mode: 0o770)
    }

    /// Starts the local unix socket (mode 0660) with the role `makeRole` gives each client.
    func startLocalServer(makeRole: @escaping @Sendable (ClusterConnection) -> ConnectionRole) async throws -> Endpoint.Listener {
        let log = logger("Local Server")
        let listener = try await Endpoint.listen(.unix(path: config.localSocketPath), group: group, settings: { [self] in localSettings(log) },
                                                 maxConnections: 512, logger: log, makeRole: makeRole)
        chmod(config.localSocketPath, 0o660)
        return listener
    }

    /// Removes everything in a worker's inbox, on the thread pool.
    func clearInbox(_ worker: String) {
        let dir = path("queue/cluster/\(worker)")
        threadPool.submit { _ in FileSystem.clearDirectory(dir) }
    }
}
