import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The worker daemon: one connection to the master (kept alive, re-established with backoff),
/// the periodic syncs, and the local socket.
public final class WorkerNode: Sendable {
    public let context: NodeContext
    let logger: Logger
    let integrity: WorkerIntegrity
    let dapi: DapiRuntime
    let agents: WorkerAgents
    /// Whether the master is one of ours or a reference node, found out after each hello.
    let masterKind = PeerRecord()
    let sendSync: SendSyncRelay
    private let link = NIOLockedValueBox<ClusterConnection?>(nil)
    private let listeners = NIOLockedValueBox<[Endpoint.Listener]>([])

    /// A follower master's standby link rather than a worker (it says so in `node_caps`).
    let isStandby: Bool
    /// etcd (with `ha.etcd`), and who leads, from its observe stream (not on a standby link).
    let etcd: EtcdClient?
    let leaderWatch: LeaderWatch?

    public convenience init(context: NodeContext, onChange: String? = nil) {
        self.init(context: context, onChange: onChange, standby: false)
    }

    init(context: NodeContext, onChange: String? = nil, standby: Bool) {
        self.context = context
        isStandby = standby
        logger = context.logger("Worker \(context.config.nodeName)")
        let ha = context.config.ha
        etcd = ha.map { EtcdClient(endpoints: $0.etcd, group: context.group) }
        if let ha, let etcd, !standby {
            leaderWatch = LeaderWatch(client: etcd, election: ha.election, logger: logger)
        } else {
            leaderWatch = nil
        }
        integrity = WorkerIntegrity(context: context, onChange: onChange)
        var dapiLog = logger
        dapiLog[metadataKey: "subtag"] = "D API"
        dapi = DapiRuntime(context: context, logger: dapiLog)
        agents = WorkerAgents(context: context)
        sendSync = SendSyncRelay(deadline: context.config.limits.sendSyncTimeout + context.config.intervals.timeoutClusterRequest,
                                 logger: logger)
    }

    public var config: ClusterConfig { context.config }

    /// The masters to try, in order: the leader etcd names first (with `ha`), then `node.master`.
    func masterCandidates() async -> [HostPort] {
        var list = config.masterAddresses
        var leader = leaderWatch?.leader
        if leader == nil, let etcd, let ha = config.ha {
            do { leader = try await etcd.leadingMaster(election: ha.election) } catch {
                logger.warning("Could not ask etcd which master leads (trying node.master): \(error)")
            }
        }
        if let leader, leader.node != config.nodeName, let address = leader.address {
            list.removeAll { $0 == address }
            list.insert(address, at: 0)
        }
        return list
    }

    /// The live connection to the master, when there is one.
    var masterConnection: ClusterConnection? { link.withLockedValue { $0 } }

    /// Clients connected to the local socket now.
    var localClientCount: Int { listeners.withLockedValue { $0.first?.connectionCount ?? 0 } }

    public func run(until shutdown: ShutdownSignal) async throws {
        try context.prepareDirectories()
        try agents.open()
        // Before anything is bound, so that a failure here leaves no listener open.
        let pidFile = try PidFile.create(context)
        defer { pidFile.remove() }
        let abandoned = IntegrityApplier.removeAbandonedStaging(in: config.root)
        if !abandoned.isEmpty {
            logger.warning("Removed \(abandoned.count) staging directories left by interrupted applies: \(abandoned.prefix(10).joined(separator: ", ")).")
        }
        let local = try await context.startLocalServer { _ in LocalSession(node: self) }
        listeners.withLockedValue { $0 = [local] }
        let metrics: MetricsServer?
        do { metrics = try await context.startMetrics(self, type: "worker", logger: logger) } catch {
            await local.close()
            throw error
        }
        SystemdNotifier.ready()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.context.tasks.run() }
            group.addTask { await self.connectLoop(shutdown) }
            if let watch = leaderWatch { group.addTask { await watch.run(until: shutdown) } }
            await shutdown.wait()
            SystemdNotifier.stopping()
            logger.info("Stopping.")
            await local.close()
            masterConnection?.close()
            context.tasks.stop()
            group.cancelAll()
        }
        // Nothing may be left waiting on an answer when the loops close.
        dapi.failAll(peer: nil, ClusterError.wazuh(3018, "the node is stopping"))
        sendSync.failAll(ClusterError.wazuh(3018, "the node is stopping"))
        unlink(config.localSocketPath)
        await metrics?.close()
        logger.info("Stopped.")
    }

    /// A follower master's standby link (docs/HA.md): connected to the leader as a worker is,
    /// it takes the leader's files (integrity sync) and agent groups (agent-groups sync) into its
    /// own tree and store, and pushes nothing. Runs until `stop`; the master's own task owner
    /// runs the link's tasks.
    func runStandby(until stop: ShutdownSignal) async {
        await connectLoop(stop, standby: true)
        masterConnection?.close()
    }

    /// Connects, says hello, runs the session; on any loss waits a jittered, growing delay and
    /// tries again.
    private func connectLoop(_ shutdown: ShutdownSignal, standby: Bool = false) async {
        var backoff = ReconnectBackoff(base: config.intervals.workerConnectionRetry, cap: config.intervals.workerConnectionRetryMax)
        let connected = NIOLockedValueBox(false)
        while !shutdown.isTriggered && !Task.isCancelled {
            connected.withLockedValue { $0 = false }
            do {
                try await connectOnce { conn in
                    connected.withLockedValue { $0 = true }
                    try await self.session(conn, shutdown, standby: standby)
                }
            } catch is CancellationError {
                return
            } catch {
                // A lost link was already reported by the link itself.
                if !connected.withLockedValue({ $0 }) {
                    logger.error("Could not connect to master: \(error)")
                }
            }
            if shutdown.isTriggered || Task.isCancelled { return }
            // A connection that got through hello starts the backoff over.
            if connected.withLockedValue({ $0 }) { backoff.reset() }
            // A reload (SIGHUP) may have changed the retry intervals: start over with them.
            let retry = config.intervals
            if backoff.base != retry.workerConnectionRetry || backoff.cap != retry.workerConnectionRetryMax {
                backoff = ReconnectBackoff(base: retry.workerConnectionRetry, cap: retry.workerConnectionRetryMax)
            }
            let window = backoff.ceiling
            let delay = backoff.next()
            logger.info("Reconnecting to the master in \(String(format: "%.2f", delay)) s (attempt \(backoff.attempt), random wait up to \(String(format: "%.2f", window)) s).")
            if let watch = leaderWatch {
                // A new leader elected meanwhile is tried at once.
                if await watch.waitForChange(timeout: delay) { logger.info("A new leader: reconnecting now.") }
                if Task.isCancelled { return }
            } else {
                guard (try? await Task.sleep(for: .seconds(delay))) != nil else { return }
            }
        }
    }

    /// One connection to the master with a successful hello; `body` runs while it lasts. With
    /// several masters (failover), each is tried in turn until one takes the hello: only the
    /// leader listens.
    func connectOnce<T: Sendable>(_ body: @escaping @Sendable (ClusterConnection) async throws -> T) async throws -> T {
        let candidates = await masterCandidates()
        for (i, m) in candidates.enumerated() {
            let address = Endpoint.Address.tcp(host: m.host, port: m.port)
            let greeted = NIOLockedValueBox(false)
            do {
                return try await connect(to: address) { conn in
                    greeted.withLockedValue { $0 = true }
                    return try await body(conn)
                }
            } catch {
                if greeted.withLockedValue({ $0 }) || i == candidates.count - 1 { throw error }
                logger.info("No master at \(address) (\(error)); trying \(candidates[i + 1]).")
            }
        }
        throw ClusterError.config("no master address (node.master)")
    }

    private func connect<T: Sendable>(to masterAddress: Endpoint.Address,
                                      _ body: @escaping @Sendable (ClusterConnection) async throws -> T) async throws -> T {
        let settings = context.clusterSettings(logger)
        return try await Endpoint.connect(masterAddress, group: context.group, settings: settings, role: MasterLink(worker: self)) { conn in
            let hello = Hello(nodeName: self.config.nodeName, clusterName: self.config.clusterName, nodeType: "worker",
                              version: self.config.compatVersion)
            do {
                _ = try await conn.requestOK(ClusterCommand.hello, hello.payload)
            } catch let e as ClusterError where e.code == 3018 || e.code == 3020 {
                // A master that cannot decrypt the hello closes the connection without a word
                // (it logs 3025); one that never answers is as likely to be another service.
                let why = e.code == 3018 ? "closed the connection without answering hello"
                    : "did not answer hello within \(String(format: "%g", self.config.intervals.timeoutClusterRequest)) s"
                throw ClusterError(code: e.code, "the master at \(masterAddress) \(why): the cluster key (cluster.key or "
                                   + "cluster.key_file) probably differs from the master's, or, behind a load balancer, no master is serving",
                                   exit: e.code == 3018 ? .noPermission : .tempFail)
            }
            let inbox = "queue/cluster/\(self.config.nodeName)"
            conn.setFileInbox(inbox)
            conn.setLogger(self.logger)
            self.logger.info("Connected to the master \(masterAddress).")
            self.masterKind.reset()
            self.masterKind.discover(over: conn, peer: "the master", logger: self.logger)
            self.link.withLockedValue { $0 = conn }
            defer {
                self.link.withLockedValue { if $0 === conn { $0 = nil } }
                self.context.clearInbox(self.config.nodeName)
            }
            return try await body(conn)
        }
    }

    /// After hello: a master of ours names itself (and its election term); when it is not the
    /// one this worker last pushed agents to, every agent row is pushed again.
    func noteMaster(_ conn: ClusterConnection) async throws {
        guard case .ours(let caps) = try await masterKind.kind(on: conn.eventLoop).get(), let node = caps.node else { return }
        let identity = caps.term.map { "\(node)@\($0)" } ?? node
        let marked = try await agents.noteMaster(identity)
        if marked > 0 {
            logger.info("Connected to a different master than before (\(identity)): pushing all \(marked) agents again.")
        }
    }

    /// One integrity cycle and nothing else, for cron: connect, hello, check, apply, disconnect.
    public func syncIntegrityOnce(timeout: Double) async throws -> IntegrityOutcome {
        try FileSystem.makeDirectory(context.path("var/db"), mode: 0o750)
        return try await withTasks { try await self.connectOnce { conn in try await self.integrity.runOnce(conn, timeout: timeout) } }
    }

    /// Runs `body` with the node's task owner running beside it (the one-shot commands).
    private func withTasks<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await self.context.tasks.run(); return nil }
            defer { context.tasks.stop() }
            let result = try await body()
            context.tasks.stop()
            return result
        }
    }

    /// The connected session: keepalives, the periodic integrity check and agent-info pushes,
    /// until shutdown or until the link drops.
    private func session(_ conn: ClusterConnection, _ shutdown: ShutdownSignal, standby: Bool) async throws {
        if !standby { try await noteMaster(conn) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.keepaliveLoop(conn) }
            group.addTask { try await self.integrity.loop(conn) }
            if !standby { group.addTask { try await self.agents.loop(conn) } }
            group.addTask { await shutdown.wait() }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    /// One agent-info push for `cl-worker sync agent-info --once`: connect, hello, push, wait for
    /// the master's result, mark the rows synced, disconnect. The daemon must not be connected
    /// at the same time (the master refuses a second connection under the same name, 3028).
    public func syncAgentInfoOnce() async throws -> JSON {
        try context.prepareDirectories()
        try agents.open()
        return try await withTasks { try await self.connectOnce { conn in
            try await self.noteMaster(conn)
            let report = try await self.agents.push(conn)
            guard report.granted else {
                throw ClusterError.timeout("the master is busy with an agent-info push from this node; try again", code: 0)
            }
            return report.json
        } }
    }

    private func keepaliveLoop(_ conn: ClusterConnection) async throws {
        var failures = 0
        while true {
            try await Task.sleep(for: .seconds(config.intervals.workerKeepAlive))
            do {
                let r = try await conn.requestOK(ClusterCommand.keepalive, "keepalive")
                failures = 0
                logger.debug("Successful response from master: \(r.text)")
            } catch {
                failures += 1
                logger.error("Keepalive failed (\(failures)/\(config.intervals.workerMaxFailedKeepalive)): \(error)")
                if failures >= config.intervals.workerMaxFailedKeepalive {
                    logger.error("Too many failed keepalives: closing the connection to the master.")
                    conn.close()
                    throw ClusterError.unavailable("keepalive failed", code: 3020)
                }
            }
        }
    }
}

extension WorkerNode: LocalCommandHandler {
    public func handleLocal(_ request: IncomingRequest, from client: ClusterConnection) throws -> HandlerResult {
        switch request.command {
        case ClusterCommand.getNodes, ClusterCommand.getHealth:
            guard let master = masterConnection else { throw ClusterError.wazuh(3023) }
            // As the reference: acknowledge now, answer later with a `control_res` request.
            context.tasks.spawn(boundTo: client) {
                let payload: [UInt8]
                do {
                    payload = try await master.requestOK(request.command, request.payload).payload
                } catch let e as ClusterError {
                    payload = WireError.payload(e)
                } catch {
                    payload = WireError.payload(ClusterError.wazuh(1000, "\(error)"))
                }
                _ = try? await client.request(ClusterCommand.controlResponse, payload)
            }
            return .reply(.ok(ClusterCommand.sentToMaster))
        case ClusterCommand.getConfig:
            return .reply(.ok(json: ConfigSummary.json(config)))
        case ClusterCommand.dapi:
            return .reply(try dapiLocal(request, from: client))
        case ClusterCommand.sendSync:
            return try sendSyncLocal(request, from: client)
        case ClusterCommand.getHash:
            let config = self.config
            return .later(context.threadPool.runIfActive(eventLoop: client.eventLoop) { () throws -> Reply? in
                .ok(json: .object(try IntegrityHashOperation.hashes(config)))
            })
        default:
            return .unknown
        }
    }
}

/// The worker's side of its master connection: what the master may ask of a worker.
final class MasterLink: ConnectionRole {
    let worker: WorkerNode

    init(worker: WorkerNode) { self.worker = worker }

    func handle(_ r: IncomingRequest, on connection: ClusterConnection) throws -> HandlerResult {
        switch r.command {
        case ClusterCommand.masterKeepalive:
            return .reply(Reply(ClusterCommand.okClient, r.payload))
        case ClusterCommand.integrityOK, ClusterCommand.integritySync, ClusterCommand.integritySyncEnd,
             ClusterCommand.integritySyncError:
            return .reply(try worker.integrity.handleMaster(r, on: connection))
        case ClusterCommand.dapi:
            return .reply(try worker.dapiFromMaster(r, on: connection))
        case ClusterCommand.dapiResponse:
            return .reply(try worker.dapiResponse(r, on: connection))
        case ClusterCommand.dapiError:
            return .reply(try worker.dapiErrorFromMaster(r))
        case PeerCapabilities.command:
            return .reply(PeerRecord.answer(r, node: worker.config.nodeName, role: worker.isStandby ? PeerCapabilities.standbyRole : nil))
        case ClusterCommand.sendSyncResponse:
            return .reply(try worker.sendSyncResponse(r, on: connection))
        case ClusterCommand.sendSyncError:
            return .reply(try worker.sendSyncError(r))
        case ClusterCommand.agentInfoResult, ClusterCommand.agentInfoError:
            return .reply(worker.agents.agentInfoAnswer(r))
        case ClusterCommand.agentGroups, ClusterCommand.agentGroupsFull:
            return .reply(worker.agents.receiveGroups(r, on: connection))
        default:
            return .unknown
        }
    }

    func connectionClosed(_ connection: ClusterConnection, error: Error?) {
        worker.dapiMasterDisconnected()
        worker.sendSync.failAll(ClusterError.wazuh(3023, "the connection to the master was lost before it answered"))
        if let error { worker.logger.error("Lost the connection to the master: \(error)") }
        else { worker.logger.info("The master closed the connection.") }
    }
}
