import ClusterKit
import NIOConcurrencyHelpers

/// The node's agent store, opened on first use and shared by everything in the daemon that
/// needs it.
final class AgentStoreHandle: Sendable {
    private let config: ClusterConfig
    private let box = NIOLockedValueBox<AgentStore?>(nil)

    init(config: ClusterConfig) { self.config = config }

    /// Opens the store (once); the daemons call this at start so a bad store stops them at once.
    @discardableResult
    func open() throws -> AgentStore {
        try box.withLockedValue { s in
            if let s { return s }
            let store = try AgentStore(config: config)
            s = store
            return store
        }
    }
}
