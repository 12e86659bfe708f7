import ClusterKit
import NIOConcurrencyHelpers

/// The workers that said a valid hello, in connection order.
final class WorkerRegistry: Sendable {
    private let state = NIOLockedValueBox<(order: [String], sessions: [String: MasterWorkerSession])>(([], [:]))

    func isConnected(_ name: String) -> Bool { state.withLockedValue { $0.sessions[name] != nil } }

    /// Registers `session` under `name` unless the name is taken (checked and added atomically).
    func register(_ name: String, _ session: MasterWorkerSession) -> Bool {
        state.withLockedValue { s in
            guard s.sessions[name] == nil else { return false }
            s.sessions[name] = session
            s.order.append(name)
            return true
        }
    }

    /// Removes `name` only if it still belongs to `session` (a stale session must not remove the
    /// live one).
    func unregister(_ name: String, _ session: MasterWorkerSession) {
        state.withLockedValue { s in
            guard s.sessions[name] === session else { return }
            s.sessions.removeValue(forKey: name)
            s.order.removeAll { $0 == name }
        }
    }

    var sessions: [MasterWorkerSession] {
        state.withLockedValue { s in s.order.compactMap { s.sessions[$0] } }
    }

    func session(_ name: String) -> MasterWorkerSession? { state.withLockedValue { $0.sessions[name] } }

    var count: Int { state.withLockedValue { $0.order.count } }
}
