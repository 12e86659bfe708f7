import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The worker's integrity work: ask permission, send its snapshot, apply what the master sends
/// back (sync §4.1).
final class WorkerIntegrity: Sendable {
    let context: NodeContext
    let onChange: String?
    let logger: Logger

    init(context: NodeContext, onChange: String?) {
        self.context = context
        self.onChange = onChange
        logger = context.logger("Worker \(context.config.nodeName)").tagged("Integrity check")
    }

    func loop(_ conn: ClusterConnection) async throws {
        while true {
            try await Task.sleep(for: .seconds(context.config.intervals.workerSyncIntegrity))
        }
    }

    func handleMaster(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        .ok("Thanks")
    }
}
