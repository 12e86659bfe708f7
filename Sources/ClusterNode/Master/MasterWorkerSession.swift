import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The master's side of one worker connection (the reference's MasterHandler).
///
/// Nothing but `hello` is accepted until the worker has identified itself, and a connection that
/// does not say a valid hello within `limits.hello_timeout` is closed. The hello checks all run
/// before the worker is registered.
final class MasterWorkerSession: ConnectionRole {
    let master: MasterNode
    let connection: ClusterConnection

    struct State {
        var name: String?
        var info: NodeInfo?
        var status = WorkerSyncStatus()
        var lastKeepalive = Date()
        var integrityLockedSince: Date?
        var logger: Logger
    }
    let state: NIOLockedValueBox<State>

    init(master: MasterNode, connection: ClusterConnection) {
        self.master = master
        self.connection = connection
        state = NIOLockedValueBox(State(logger: master.logger.tagged("Worker \(connection.peerAddress)")))
        let timeout = master.config.limits.helloTimeout
        connection.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { [weak self] in
            guard let self, self.name == nil, !connection.isClosed else { return }
            self.logger.warning("No hello within \(timeout) s from \(connection.peerAddress): closing the connection.")
            connection.close()
        }
    }

    var name: String? { state.withLockedValue { $0.name } }
    var info: NodeInfo? { state.withLockedValue { $0.info } }
    var status: WorkerSyncStatus { state.withLockedValue { $0.status } }
    var lastKeepalive: Date { state.withLockedValue { $0.lastKeepalive } }
    var logger: Logger { state.withLockedValue { $0.logger } }

    func updateStatus(_ body: (inout WorkerSyncStatus) -> Void) { state.withLockedValue { body(&$0.status) } }

    func handle(_ r: IncomingRequest, on connection: ClusterConnection) async throws -> HandlerResult {
        if r.command == ClusterCommand.hello { return .reply(try hello(r)) }
        guard name != nil else {
            throw ClusterError.wazuh(1000, "say hello first: '\(r.command)' before hello")
        }
        switch r.command {
        case ClusterCommand.keepalive:
            state.withLockedValue { s in
                s.lastKeepalive = Date()
                s.status.lastKeepAlive = ClusterDate.format(s.lastKeepalive)
            }
            return .reply(Reply("ok-m ", r.payload))
        case ClusterCommand.integrityPermission:
            return .reply(.ok(master.integrity.permission(for: self) ? "True" : "False"))
        case ClusterCommand.integrityStart:
            return .reply(.ok(try master.integrity.startCheck(for: self, requestedID: r.text)))
        case ClusterCommand.integrityEnd:
            return .reply(try master.integrity.fileReceived(for: self, payload: r))
        case ClusterCommand.integrityError:
            return .reply(master.integrity.workerReportedError(for: self, payload: r))
        case ClusterCommand.agentInfoPermission:
            return .reply(.ok(master.agents.permission(for: self) ? "True" : "False"))
        case ClusterCommand.agentInfoStart:
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
        default:
            return .unknown
        }
    }

    private func hello(_ r: IncomingRequest) throws -> Reply {
        if let existing = name {
            // The reference answers a second hello with 3028 and loses track of the worker; we
            // keep the registration and refuse the repeat.
            throw ClusterError.wazuh(3028, existing)
        }
        let hello = try Hello(parsing: r.payload)
        let cfg = master.config
        do {
            try hello.check(masterName: cfg.nodeName, clusterName: cfg.clusterName, version: cfg.compatVersion,
                            isConnected: master.registry.isConnected)
        } catch let e as ClusterError {
            master.logger.warning("Refused hello from \(connection.peerAddress) as '\(hello.nodeName)': \(e)")
            throw e
        }
        guard master.registry.register(hello.nodeName, self) else { throw ClusterError.wazuh(3028, hello.nodeName) }
        let inbox = "queue/cluster/\(hello.nodeName)"
        do {
            try FileSystem.makeDirectory(master.context.path(inbox), mode: 0o770)
        } catch {
            master.registry.unregister(hello.nodeName, self)
            throw ClusterError.wazuh(1000, "cannot create \(inbox): \(error)")
        }
        connection.setFileInbox(inbox)
        let log = master.logger.tagged("Worker \(hello.nodeName)")
        connection.setLogger(log)
        state.withLockedValue { s in
            s.name = hello.nodeName
            s.info = NodeInfo(name: hello.nodeName, type: hello.nodeType, version: hello.version, ip: connection.peerAddress)
            s.lastKeepalive = Date()
            s.status.lastKeepAlive = ClusterDate.format(s.lastKeepalive)
            s.logger = log
        }
        log.info("Connected from \(connection.peerAddress) (version \(hello.version)).")
        return .ok("Client \(hello.nodeName) added")
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) async {
        guard let name else {
            if let error {
                master.logger.warning("Closed the connection from \(connection.peerAddress) before any hello: \(error)")
            }
            return
        }
        master.registry.unregister(name, self)
        master.integrity.workerDisconnected(self)
        master.dapiWorkerDisconnected(self)
        master.agents.workerDisconnected(self)
        FileSystem.clearDirectory(master.context.path("queue/cluster/\(name)"))
        if let error {
            logger.error("Disconnected: \(error)")
        } else {
            logger.info("Disconnected.")
        }
    }
}
