import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The master's integrity work: the periodic snapshot of its own files and the per-worker check
/// and sync (sync §4).
final class MasterIntegrity: Sendable {
    let context: NodeContext
    let logger: Logger

    struct State {
        /// Workers that already asked for permission during the current scan cycle.
        var askedThisCycle: Set<String> = []
        var snapshotReady = false
    }
    let state = NIOLockedValueBox(State())

    init(context: NodeContext) {
        self.context = context
        logger = context.logger("Master").tagged("Local integrity")
    }

    func recalculationLoop(_ shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered {
            state.withLockedValue { s in s.askedThisCycle.removeAll(); s.snapshotReady = true }
            guard (try? await Task.sleep(for: .seconds(context.config.intervals.masterRecalculateIntegrity))) != nil else { return }
        }
    }

    /// `syn_i_w_m_p`: at most once per worker per cycle, and only while its lock is free.
    func permission(for session: MasterWorkerSession) -> Bool {
        guard let name = session.name else { return false }
        let first = state.withLockedValue { s -> Bool in
            guard s.snapshotReady else { return false }
            return s.askedThisCycle.insert(name).inserted
        }
        guard first else { return false }
        return session.state.withLockedValue { s -> Bool in
            if let since = s.integrityLockedSince {
                if Date().timeIntervalSince(since) > context.config.intervals.masterMaxLockedIntegrityTime {
                    s.logger.warning("Integrity lock held for too long: releasing it.")
                    s.integrityLockedSince = nil
                    s.status.syncIntegrityFree = true
                } else {
                    return false
                }
            }
            return true
        }
    }

    func startCheck(for session: MasterWorkerSession, requestedID: String) throws -> String {
        throw ClusterError.wazuh(1000, "integrity check is not available")
    }

    func fileReceived(for session: MasterWorkerSession, payload: IncomingRequest) throws -> Reply {
        throw ClusterError.wazuh(3027)
    }

    func workerReportedError(for session: MasterWorkerSession, payload: IncomingRequest) -> Reply {
        .ok("Error received")
    }

    func workerDisconnected(_ session: MasterWorkerSession) {}
}
