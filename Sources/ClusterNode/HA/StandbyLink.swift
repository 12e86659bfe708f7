import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// A follower master's hot standby (docs/HA.md): while it follows, it is connected to the
/// leader as a worker is, and takes the leader's files (integrity sync) into its own tree and
/// the agent groups (agent-groups sync) into its own store. It pushes nothing, and it writes the
/// synced directories only with what the leader sends. When it wins the election the link is
/// stopped before the cluster port is bound.
final class StandbyLink: Sendable {
    let worker: WorkerNode
    let logger: Logger
    private let current = NIOLockedValueBox<(stop: ShutdownSignal, done: ShutdownSignal)?>(nil)

    init(context: NodeContext, logger: Logger) {
        worker = WorkerNode(context: context, standby: true)
        var log = logger
        log[metadataKey: "subtag"] = "Standby"
        self.logger = log
    }

    /// Whether the link is connected to the leader now.
    var isConnected: Bool { worker.masterConnection != nil }

    /// When the tree was last found equal to the leader's (nil: never since start).
    var lastInSync: Date? { worker.integrity.lastInSync }

    /// Follows the leader whenever this master is a follower and etcd names another master as
    /// the leader, until `shutdown`.
    func run(_ election: LeaderElection, shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered && !Task.isCancelled {
            guard election.snapshot.role == .follower, await leaderIsAnother(election) else {
                await shutdown.wait(timeout: 0.5)
                continue
            }
            let stop = ShutdownSignal(), done = ShutdownSignal()
            current.withLockedValue { $0 = (stop, done) }
            logger.info("Following the leader as a hot standby.")
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await self.worker.runStandby(until: stop) }
                g.addTask { await stop.wait() }
                g.addTask { await shutdown.wait() }
                await g.next()
                stop.trigger()
                g.cancelAll()
            }
            worker.masterConnection?.close()
            current.withLockedValue { $0 = nil }
            done.trigger()
        }
    }

    private func leaderIsAnother(_ election: LeaderElection) async -> Bool {
        guard let leader = try? await election.client.leadingMaster(election: election.config.election) else { return false }
        return leader.node != election.nodeName
    }

    /// Stops the link (before this master serves) and says how current its tree is.
    func stopForPromotion() async {
        if let (stop, done) = current.withLockedValue({ $0 }) {
            stop.trigger()
            await done.wait(timeout: 10)
        }
        // What the store holds: the groups the old leader sent; agent rows come from the workers.
        let rows = (try? worker.agents.open().count()) ?? 0
        let store = "its agent store holds \(rows) agents (with the old leader's groups); each worker pushes all its agents again on reconnecting"
        if let t = lastInSync {
            logger.info("Promoted: the tree was last equal to the old leader's at \(ClusterDate.format(t)) (\(String(format: "%.1f", Date().timeIntervalSince(t))) s ago); \(store).")
        } else {
            logger.warning("Promoted without a completed sync from the old leader since start: the tree is what this master had on disk, and workers will be given it; \(store).")
        }
    }
}
