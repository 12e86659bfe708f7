import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The master's side of one worker connection (the reference's MasterHandler).
///
/// The connection admits nothing but one `hello` until the worker has identified itself, and
/// closes a connection that does not say a valid hello within `limits.hello_timeout` (both in
/// the connection's state machine). The hello checks all run before the worker is registered.
/// A worker's `syn_i_w_m` and `syn_a_w_m` are taken only after the permission step of their flow
/// granted them, one of each at a time.
final class MasterWorkerSession: ConnectionRole {
    let master: MasterNode
    let connection: ClusterConnection

    struct State {
        var name: String?
        var info: NodeInfo?
        var status = WorkerSyncStatus()
        /// When the last keepalive arrived, on the monotonic clock: the reaper measures silence
        /// with it, so a jump of the wall clock (NTP step, operator) drops no worker.
        var lastKeepalive = ContinuousClock.now
        /// When the integrity lock was taken, on the monotonic clock, for the same reason: a
        /// clock set back must not keep the lock for an hour more, nor one set forward free it.
        var integrityLockedSince: ContinuousClock.Instant?
        /// Permission granted by `syn_i_w_m_p` / `syn_a_w_m_p` and not yet used.
        var integrityGranted = false
        var agentInfoGranted = false
        var logger: Logger
    }
    let state: NIOLockedValueBox<State>
    /// Whether the worker is one of ours or a reference node, found out after its hello.
    let peer = PeerRecord()

    init(master: MasterNode, connection: ClusterConnection) {
        self.master = master
        self.connection = connection
        state = NIOLockedValueBox(State(logger: master.logger.tagged("Worker \(connection.peerAddress)")))
    }

    var name: String? { state.withLockedValue { $0.name } }
    var info: NodeInfo? { state.withLockedValue { $0.info } }
    var status: WorkerSyncStatus { state.withLockedValue { $0.status } }
    var lastKeepalive: ContinuousClock.Instant { state.withLockedValue { $0.lastKeepalive } }
    var logger: Logger { state.withLockedValue { $0.logger } }

    func updateStatus(_ body: (inout WorkerSyncStatus) -> Void) { state.withLockedValue { body(&$0.status) } }

    func handle(_ r: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
        if r.command == ClusterCommand.hello {
            do { return .reply(try hello(r)) } catch {
                NodeMetrics.shared.helloRefused(code: (error as? ClusterError)?.code ?? 1000)
                throw error
            }
        }
        guard name != nil else {
            throw ClusterError.wazuh(1000, "say hello first: '\(r.command)' before hello")
        }
        switch r.command {
        case ClusterCommand.keepalive:
            state.withLockedValue { s in
                s.lastKeepalive = ContinuousClock.now
                s.status.lastKeepAlive = ClusterDate.format(Date())
            }
            return .reply(Reply("ok-m ", r.payload))
        case ClusterCommand.integrityPermission:
            let granted = master.integrity.permission(for: self)
            if granted { state.withLockedValue { $0.integrityGranted = true } }
            return .reply(.ok(granted ? "True" : "False"))
        case ClusterCommand.integrityStart:
            try usePermission(\.integrityGranted, ClusterCommand.integrityPermission)
            return .reply(.ok(try master.integrity.startCheck(for: self, requestedID: r.text)))
        case ClusterCommand.integrityEnd:
            return .reply(try master.integrity.fileReceived(for: self, payload: r))
        case ClusterCommand.integrityError:
            return .reply(master.integrity.workerReportedError(for: self, payload: r))
        case ClusterCommand.agentInfoPermission:
            let granted = master.agents.permission(for: self)
            if granted { state.withLockedValue { $0.agentInfoGranted = true } }
            return .reply(.ok(granted ? "True" : "False"))
        case ClusterCommand.agentInfoStart:
            try usePermission(\.agentInfoGranted, ClusterCommand.agentInfoPermission)
            return .reply(master.agents.startAgentInfo(for: self, stringID: r.text))
        case ClusterCommand.agentGroupsResult, ClusterCommand.agentGroupsError,
             ClusterCommand.agentGroupsFullResult, ClusterCommand.agentGroupsFullError:
            return .reply(master.agents.groupsResult(for: self, r))
        case ClusterCommand.agentGroupsFullRequest:
            return .reply(master.agents.fullSyncRequested(by: self))
        case ClusterCommand.getNodes:
            let query = try NodeListQuery(json: r.payload.isEmpty ? nil : try JSON.parse(r.payload))
            return .reply(.ok(json: try query.apply(to: master.nodeList())))
        case ClusterCommand.getHealth:
            return .reply(.ok(json: master.health(filter: r.payload.isEmpty ? nil : try JSON.parse(r.payload))))
        case ClusterCommand.dapi:
            return .reply(try master.dapiFromWorker(r, session: self))
        case ClusterCommand.dapiResponse:
            return .reply(try master.dapiResponse(r, session: self))
        case ClusterCommand.dapiError:
            return .reply(try master.dapiErrorFromWorker(r, session: self))
        case PeerCapabilities.command:
            return .reply(PeerRecord.answer(r, node: master.config.nodeName, term: master.electionTerm))
        case ClusterCommand.sendSync:
            return .reply(try master.sendSyncFromWorker(r, session: self))
        default:
            return .unknown
        }
    }

    /// Takes a granted permission, or refuses a push that did not ask for one.
    private func usePermission(_ flag: WritableKeyPath<State, Bool>, _ step: String) throws {
        let had = state.withLockedValue { s -> Bool in
            defer { s[keyPath: flag] = false }
            return s[keyPath: flag]
        }
        guard had else { throw ClusterError.wazuh(1000, "not granted: ask with '\(step)' first") }
    }

    private func hello(_ r: IncomingRequest) throws -> Reply {
        if let existing = name {
            // The reference answers a second hello with 3028 and loses track of the worker; we
            // keep the registration and refuse the repeat.
            throw ClusterError.wazuh(3028, existing)
        }
        let hello = try Hello(parsing: r.payload)
        let cfg = master.config
        // A master that has just stepped down (failover) takes no new worker.
        guard master.isServing else {
            throw ClusterError.wazuh(3110, "this master is not serving workers")
        }
        do {
            try hello.check(masterName: cfg.nodeName, clusterName: cfg.clusterName, version: cfg.compatVersion,
                            isConnected: master.registry.isConnected)
        } catch let e as ClusterError {
            master.logger.warning("Refused hello from \(connection.peerAddress) as '\(hello.nodeName)': \(e)")
            throw e
        }
        guard master.registry.register(hello.nodeName, self) else { throw ClusterError.wazuh(3028, hello.nodeName) }
        // The inbox directory is created with the first file the worker sends.
        connection.setFileInbox("queue/cluster/\(hello.nodeName)")
        let log = master.logger.tagged("Worker \(hello.nodeName)")
        connection.setLogger(log)
        state.withLockedValue { s in
            s.name = hello.nodeName
            s.info = NodeInfo(name: hello.nodeName, type: hello.nodeType, version: hello.version, ip: connection.peerAddress)
            s.lastKeepalive = ContinuousClock.now
            s.status.lastKeepAlive = ClusterDate.format(Date())
            s.logger = log
        }
        log.info("Connected from \(connection.peerAddress) (version \(hello.version)).")
        NodeMetrics.shared.workerConnection(hello.nodeName, connected: true)
        // Asked once the hello's answer is on its way.
        let name = hello.nodeName
        connection.eventLoop.execute { [self] in
            peer.discover(over: connection, peer: name, logger: log)
            // A follower master's standby link (failover) is listed as the master it is.
            peer.kind(on: connection.eventLoop).whenSuccess { [self] kind in
                guard case .ours(let caps) = kind, caps.role == PeerCapabilities.standbyRole else { return }
                state.withLockedValue { $0.info?.type = "master"; $0.info?.ha = "follower" }
                log.info("\(name) is a follower master: its standby link takes files and agent groups.")
            }
        }
        return .ok("Client \(hello.nodeName) added")
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) {
        guard let name else {
            if let error {
                master.logger.warning("Closed the connection from \(connection.peerAddress) before any hello: \(error)")
            }
            return
        }
        master.registry.unregister(name, self)
        NodeMetrics.shared.workerConnection(name, connected: false)
        master.integrity.workerDisconnected(self)
        master.dapiWorkerDisconnected(self)
        master.agents.workerDisconnected(self)
        master.context.clearInbox(name)
        if let error {
            logger.error("Disconnected: \(error)")
        } else {
            logger.info("Disconnected.")
        }
    }
}
