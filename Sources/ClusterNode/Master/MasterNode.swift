import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The master daemon: the TCP listener workers join, the local socket, the keepalive reaper and
/// the periodic work (integrity recalculation, agent-groups broadcast), and the agent store.
public final class MasterNode: Sendable {
    public let context: NodeContext
    let registry = WorkerRegistry()
    let logger: Logger
    let integrity: MasterIntegrity
    let dapi: DapiRuntime
    let agents: MasterAgents
    /// Daemon exchanges for workers' `sendsync`: a few at once, a bounded queue behind them.
    let daemonLimiter = AsyncLimiter(permits: MasterNode.maxConcurrentExchanges, maxWaiting: MasterNode.maxWaitingExchanges)
    private let listeners = NIOLockedValueBox<[Endpoint.Listener]>([])
    /// Bound and accepting workers (what `/healthz` answers).
    let serving = NIOLockedValueBox(false)
    /// The failover election, when `ha` is configured.
    let election: LeaderElection?
    let resignRequests = ResignRequests()
    /// A follower's link to the leader (with `ha`).
    let standby: StandbyLink?

    public init(context: NodeContext) {
        self.context = context
        logger = context.logger("Master")
        integrity = MasterIntegrity(context: context)
        var dapiLog = logger
        dapiLog[metadataKey: "subtag"] = "D API"
        dapi = DapiRuntime(context: context, logger: dapiLog)
        agents = MasterAgents(context: context, registry: registry)
        if let ha = context.config.ha {
            election = LeaderElection(client: EtcdClient(endpoints: ha.etcd, group: context.group), config: ha,
                                      nodeName: context.config.nodeName, logger: logger)
            standby = StandbyLink(context: context, logger: logger)
        } else {
            election = nil
            standby = nil
        }
    }

    /// The election revision this master leads at (nil without failover, or not leading).
    var electionTerm: Int64? { election?.snapshot.leader?.revision }

    public var config: ClusterConfig { context.config }

    /// The address the master reports for itself: `node.master` when set, else the bind address.
    var ownAddress: String {
        if let h = config.masterHost { return h }
        return config.bind == "0.0.0.0" || config.bind == "::" ? "127.0.0.1" : config.bind
    }

    /// The TCP port actually bound (after `run` has started listening).
    public var boundPort: Int? { listeners.withLockedValue { $0.count > 1 ? $0.first?.port : nil } }

    /// Clients connected to the local socket now (the last listener).
    var localClientCount: Int { listeners.withLockedValue { $0.last?.connectionCount ?? 0 } }

    public func run(until shutdown: ShutdownSignal) async throws {
        try context.prepareDirectories()
        try agents.open()
        // Before anything is bound, so that a failure here leaves no listener open.
        let pidFile = try PidFile.create(context)
        defer { pidFile.remove() }
        let metrics = try await context.startMetrics(self, type: "master", logger: logger)
        if let election {
            try await runUnderElection(election, metrics: metrics, until: shutdown)
            return
        }
        let tcp: Endpoint.Listener
        do {
            tcp = try await listenForWorkers()
        } catch {
            await metrics?.close()
            throw error
        }
        let local: Endpoint.Listener
        do {
            local = try await context.startLocalServer { _ in LocalSession(node: self) }
        } catch {
            await tcp.close()
            await metrics?.close()
            throw error
        }
        listeners.withLockedValue { $0 = [tcp, local] }
        serving.withLockedValue { $0 = true }
        let port = tcp.port ?? config.port
        try writeRunFile(port: port)
        logger.info("Listening on \(config.bind):\(port); local socket \(config.localSocketPath)")
        SystemdNotifier.ready()
        await withTaskGroup(of: Void.self) { group in
            addLoops(to: &group, shutdown)
            await shutdown.wait()
            SystemdNotifier.stopping()
            logger.info("Stopping.")
            serving.withLockedValue { $0 = false }
            await tcp.close()
            await local.close()
            context.tasks.stop()
            group.cancelAll()
        }
        await finish(metrics)
    }

    /// The cluster listener workers join.
    private func listenForWorkers() async throws -> Endpoint.Listener {
        // Each connection takes the settings in force when it arrives (a reload may change them).
        let tcpSettings: @Sendable () -> ConnectionSettings = { [context, logger] in
            var s = context.clusterSettings(logger)
            s.requireHello = true
            return s
        }
        return try await Endpoint.listen(.tcp(host: config.bind, port: config.port), group: context.group,
                                         settings: tcpSettings, maxConnections: config.limits.maxConnections,
                                         logger: logger) { conn in MasterWorkerSession(master: self, connection: conn) }
    }

    private func addLoops(to group: inout TaskGroup<Void>, _ shutdown: ShutdownSignal) {
        group.addTask { await self.context.tasks.run() }
        group.addTask { await self.reaperLoop(shutdown) }
        group.addTask { await self.integrity.recalculationLoop(shutdown) }
        group.addTask { await self.agents.groupsLoop(shutdown) }
        group.addTask { await self.agents.countsLoop(shutdown) }
    }

    private func finish(_ metrics: MetricsServer?) async {
        // Nothing may be left waiting on an answer when the loops close.
        dapi.failAll(peer: nil, ClusterError.wazuh(3018, "the node is stopping"))
        unlink(config.localSocketPath)
        unlink(context.path("var/run/cl-master.json"))
        await metrics?.close()
        logger.info("Stopped.")
    }

    /// Under failover (`ha`): the local socket and the loops run from the start; the cluster
    /// port is bound only while this master leads, and closed, with every worker connection, the
    /// moment it stops leading (docs/HA.md).
    private func runUnderElection(_ election: LeaderElection, metrics: MetricsServer?, until shutdown: ShutdownSignal) async throws {
        let local: Endpoint.Listener
        do {
            local = try await context.startLocalServer { _ in LocalSession(node: self) }
        } catch {
            await metrics?.close()
            throw error
        }
        listeners.withLockedValue { $0 = [local] }
        logger.info("Failover on: etcd \(config.ha!.etcd.map(\.description).joined(separator: ", ")), election \(config.ha!.election); local socket \(config.localSocketPath)")
        SystemdNotifier.ready()
        let leadership = LeaderElection.Leadership(
            lead: { fenced in await self.lead(until: fenced, shutdown: shutdown) },
            stepDown: { why in self.stopServing(why) })
        await withTaskGroup(of: Void.self) { group in
            addLoops(to: &group, shutdown)
            if let standby { group.addTask { await standby.run(election, shutdown: shutdown) } }
            let electionDone = ShutdownSignal()
            group.addTask {
                await election.run(until: shutdown, resign: self.resignRequests, leadership)
                electionDone.trigger()
            }
            await shutdown.wait()
            SystemdNotifier.stopping()
            logger.info("Stopping.")
            // The election resigns (when leading), so that a follower takes over at once.
            await electionDone.wait(timeout: 10)
            stopServing("the node is stopping")
            await local.close()
            context.tasks.stop()
            group.cancelAll()
        }
        await finish(metrics)
    }

    /// Binds the cluster port and serves until `fenced`; a port that cannot be bound ends the
    /// term (the election campaigns again).
    private func lead(until fenced: ShutdownSignal, shutdown: ShutdownSignal) async {
        await standby?.stopForPromotion()
        let tcp: Endpoint.Listener
        do {
            tcp = try await listenForWorkers()
        } catch {
            logger.error("Elected, but cannot listen for workers: \(error); resigning.")
            return
        }
        guard !fenced.isTriggered else {
            await tcp.close()
            return
        }
        listeners.withLockedValue { $0.insert(tcp, at: 0) }
        serving.withLockedValue { $0 = true }
        let port = tcp.port ?? config.port
        try? writeRunFile(port: port)
        logger.info("Leading: listening on \(config.bind):\(port).")
        await fenced.wait()
    }

    /// Stops serving at once: closes the cluster listener and every worker connection.
    func stopServing(_ why: String) {
        let was = serving.withLockedValue { s -> Bool in defer { s = false }; return s }
        let tcp = listeners.withLockedValue { l -> Endpoint.Listener? in
            guard election != nil, l.count > 1 else { return nil }
            return l.removeFirst()
        }
        if let tcp {
            tcp.closeNow()
            for s in registry.sessions { s.connection.close() }
        }
        if was { logger.warning("Stopped serving workers: \(why).") }
    }

    private func writeRunFile(port: Int) throws {
        let info: JSON = ["pid": .int(Int64(getpid())), "node": .string(config.nodeName), "bind": .string(config.bind),
                          "port": .int(Int64(port)), "local_socket": .string(config.localSocketPath)]
        try FileSystem.writeAtomically(context.path("var/run/cl-master.json"), JSONWriter.compact.bytes(info) + [0x0A])
    }

    /// Closes registered workers whose last keepalive is too old (the reference's reaper).
    private func reaperLoop(_ shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered {
            // Read at each round: a reload (SIGHUP) may change them.
            guard (try? await Task.sleep(for: .seconds(config.intervals.masterCheckWorkerKeepalive))) != nil else { return }
            let limit = config.intervals.masterMaxTimeWithoutKeepalive
            let now = ContinuousClock.now
            for s in registry.sessions {
                let age = MasterAgents.seconds(between: s.lastKeepalive, and: now)
                if age > limit {
                    s.logger.error("No keepalive for \(Int(age)) s (limit \(Int(limit)) s): closing the connection.")
                    s.connection.close()
                }
            }
        }
    }

    // MARK: what the master tells about the cluster

    func nodeList() -> [NodeInfo] {
        [NodeInfo(name: config.nodeName, type: "master", version: config.compatVersion, ip: ownAddress,
                  ha: election.map { $0.isLeader ? "leader" : "follower" })]
            + registry.sessions.compactMap(\.info)
    }

    func health(filter: JSON?) -> JSON {
        let master = HealthReport.Node(info: nodeList()[0], activeAgents: activeAgents(config.nodeName), status: nil)
        let workers = registry.sessions.compactMap { s -> HealthReport.Node? in
            guard let info = s.info else { return nil }
            return HealthReport.Node(info: info, activeAgents: activeAgents(info.name), status: s.status)
        }
        var report = HealthReport.build(master: master, workers: workers, filter: filter)
        if let election {
            // Ours: the failover role, and why this master does not lead when it does not.
            let s = election.snapshot
            var ha: JSON = ["role": .string(s.role.rawValue), "serving": .bool(isServing)]
            if let note = s.note { ha["note"] = .string(note) }
            if let term = s.leader?.revision { ha["term"] = .int(term) }
            report["ha"] = ha
        }
        return report
    }

    /// Agents reporting active on `node`, from a cache the store refreshes (never a query here).
    func activeAgents(_ node: String) -> Int { agents.activeAgents(node) }
}

extension MasterNode: LocalCommandHandler {
    public func handleLocal(_ request: IncomingRequest, from client: ClusterConnection) throws -> HandlerResult {
        switch request.command {
        case ClusterCommand.getNodes:
            let query = try NodeListQuery(json: request.payload.isEmpty ? nil : try JSON.parse(request.payload))
            return .reply(.ok(json: try query.apply(to: nodeList())))
        case ClusterCommand.getHealth:
            let filter = request.payload.isEmpty ? nil : try JSON.parse(request.payload)
            return .reply(.ok(json: health(filter: filter)))
        case ClusterCommand.getConfig:
            return .reply(.ok(json: ConfigSummary.json(config)))
        case ClusterCommand.haStatus:
            guard let election else { throw HAStatus.notConfigured }
            let followers = registry.sessions.compactMap { s -> (NodeInfo, WorkerSyncStatus)? in
                guard let info = s.info, info.ha == "follower" else { return nil }
                return (info, s.status)
            }
            return .reply(.ok(json: HAStatus.local(election, standby: standby, followers: followers,
                                                   workers: registry.count - followers.count, serving: isServing)))
        case ClusterCommand.haResign:
            guard let election else { throw HAStatus.notConfigured }
            guard election.isLeader else {
                throw ClusterError.wazuh(3110, "\(config.nodeName) is not the leader: run ha resign on the leader (cl-master ha status names it)")
            }
            resignRequests.request()
            return .reply(.ok(json: ["resigning": .string(config.nodeName)]))
        case ClusterCommand.dapi:
            return .reply(try dapiLocal(request, from: client))
        case ClusterCommand.dapiForward:
            return .reply(try dapiForwardLocal(request, from: client))
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
