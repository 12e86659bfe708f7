import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// A worker's view of which master leads (with `ha.etcd`), kept current by etcd's election
/// `observe` stream: the worker tries the leader first, and a worker waiting to reconnect tries
/// again as soon as a new leader is elected instead of at the end of its backoff.
final class LeaderWatch: Sendable {
    let client: EtcdClient
    let election: String
    let logger: Logger

    private struct State {
        var leader: (node: String, address: HostPort?)?
        var changed = ShutdownSignal()
    }
    private let state = NIOLockedValueBox(State())

    init(client: EtcdClient, election: String, logger: Logger) {
        self.client = client
        self.election = election
        self.logger = logger
    }

    /// The leader etcd last named (nil: none known).
    var leader: (node: String, address: HostPort?)? { state.withLockedValue { $0.leader } }

    /// Waits until etcd names a new leader, or `seconds` pass; true when the leader changed.
    @discardableResult
    func waitForChange(timeout seconds: Double) async -> Bool {
        await state.withLockedValue { $0.changed }.wait(timeout: seconds)
    }

    private func update(_ c: EtcdClient.Candidate) {
        guard let value = LeaderElection.parseValue(c.value) else { return }
        let changed = state.withLockedValue { s -> ShutdownSignal? in
            if let old = s.leader, old.node == value.node, old.address == value.address { return nil }
            s.leader = value
            defer { s.changed = ShutdownSignal() }
            return s.changed
        }
        if let changed {
            logger.info("etcd names \(value.node) (\(value.address?.description ?? "no address")) as the leading master.")
            changed.trigger()
        }
    }

    /// Observes the election until `shutdown`; a broken stream is opened again after a second.
    func run(until shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered && !Task.isCancelled {
            do {
                try await client.observe(election: election) { c in
                    self.update(c)
                    return !shutdown.isTriggered
                }
            } catch {
                logger.debug("The observe stream from etcd ended: \(error)")
            }
            await shutdown.wait(timeout: 1)
        }
    }
}
