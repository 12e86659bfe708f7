import ClusterKit
import Logging

extension NodeContext {
    /// Starts the `metrics.listen` listener for `source`, when the configuration asks for one.
    func startMetrics(_ source: MetricsSource, type: String, logger: Logger) async throws -> MetricsServer? {
        guard let listen = config.metricsListen else { return nil }
        let metrics = NodeMetrics.shared
        metrics.nodeInfo(name: config.nodeName, type: type)
        metrics.clusterBudgetLimit.record(clusterBudget.limit)
        metrics.localBudgetLimit.record(localBudget.limit)
        return try await MetricsServer.start(host: listen.host, port: listen.port, group: group, startedAt: startedAt,
                                             source: source, logger: logger)
    }

    func sampleBudgets(_ metrics: NodeMetrics) {
        metrics.clusterBudgetUsed.record(clusterBudget.inUse)
        metrics.localBudgetUsed.record(localBudget.inUse)
    }
}

extension DapiRuntime {
    func sample(_ metrics: NodeMetrics) {
        let l = limiter.load
        metrics.dapiQueueDepth.record(l.waiting)
        metrics.dapiRunning.record(l.running)
    }
}

extension MasterNode: MetricsSource {
    var isServing: Bool { serving.withLockedValue { $0 } }

    func sampleMetrics(_ metrics: NodeMetrics) {
        metrics.connectedWorkers(registry.count)
        if election != nil { metrics.haLeader(isServing) }
        context.sampleBudgets(metrics)
        dapi.sample(metrics)
    }
}

extension WorkerNode: MetricsSource {
    var isServing: Bool { masterConnection != nil }

    func sampleMetrics(_ metrics: NodeMetrics) {
        metrics.masterConnected(masterConnection != nil)
        context.sampleBudgets(metrics)
        dapi.sample(metrics)
    }
}
