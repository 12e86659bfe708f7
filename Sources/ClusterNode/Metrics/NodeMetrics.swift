import ClusterKit
import CoreMetrics
import Foundation
import NIOConcurrencyHelpers

/// Every metric a node records: its name, help text and labels, in one place.
///
/// The runtime records through the swift-metrics API; the backend is swift-prometheus, chosen
/// once per process by `bootstrap()` when `metrics.listen` is set (otherwise swift-metrics'
/// no-op handlers stand in, and recording is a call that does nothing). Every metric object is
/// made once, here, and kept: the hot path (frames by command) bumps a counter it already holds,
/// whose Prometheus side is an atomic add; no lock is taken and no registry is consulted per
/// frame.
///
/// Labels are bounded: command names come from the fixed command table (anything else is
/// `other`), node names only from workers that passed hello (at most `maxNodeLabels`), and the
/// rest (error codes, reasons, operations, outcomes) from fixed sets in the code.
public final class NodeMetrics: Sendable {
    /// The process's metrics: Prometheus-backed once `bootstrap()` ran, no-ops otherwise.
    public static var shared: NodeMetrics { _shared }
    private static let _shared = NodeMetrics(factory: MetricsSystem.factory)

    /// Names and help texts (what `# HELP` says), and the histograms' buckets.
    enum Name {
        static let info = "clustertools_node_info"
        static let connectedWorkers = "clustertools_connected_workers"
        static let workerConnected = "clustertools_worker_connected"
        static let masterConnected = "clustertools_master_connected"
        static let haLeader = "clustertools_ha_leader"
        static let helloRefusals = "clustertools_hello_refusals_total"
        static let decryptFailures = "clustertools_decrypt_failures_total"
        static let framesReceived = "clustertools_frames_received_total"
        static let framesSent = "clustertools_frames_sent_total"
        static let bytesReceived = "clustertools_received_bytes_total"
        static let bytesSent = "clustertools_sent_bytes_total"
        static let preAuthCloses = "clustertools_preauth_closes_total"
        static let budgetInUse = "clustertools_memory_budget_used_bytes"
        static let budgetLimit = "clustertools_memory_budget_limit_bytes"
        static let syncDuration = "clustertools_sync_duration_seconds"
        static let syncs = "clustertools_syncs_total"
        static let lastSync = "clustertools_last_sync_timestamp_seconds"
        static let files = "clustertools_integrity_files_total"
        static let deletionGuard = "clustertools_deletion_guard_refusals_total"
        static let agentInfoRows = "clustertools_agent_info_rows_total"
        static let agentGroupsFull = "clustertools_agent_groups_full_syncs_total"
        static let dapiRequests = "clustertools_dapi_requests_total"
        static let dapiDuration = "clustertools_dapi_request_duration_seconds"
        static let dapiQueue = "clustertools_dapi_queue_depth"
        static let dapiRunning = "clustertools_dapi_running"
        static let rss = "process_resident_memory_bytes"
        static let fds = "process_open_fds"
        static let startTime = "process_start_time_seconds"
        static let uptime = "clustertools_uptime_seconds"

        static let help: [String: String] = [
            info: "Always 1; the node's name and type as labels.",
            connectedWorkers: "Workers connected to this master (past hello).",
            workerConnected: "1 while the named worker is connected to this master, 0 once it left.",
            masterConnected: "1 while this worker is connected to its master (past hello), else 0.",
            haLeader: "Masters under failover (ha): 1 while this master leads and serves workers, 0 while it follows or has stepped down.",
            helloRefusals: "Hellos this master refused, by reference error code.",
            decryptFailures: "Messages whose Fernet token did not decrypt (a wrong cluster key); each closes its connection.",
            framesReceived: "Frames received on cluster links and the local socket, by command.",
            framesSent: "Frames sent on cluster links and the local socket, by command.",
            bytesReceived: "Bytes received on the wire (frame headers included), by command.",
            bytesSent: "Bytes sent on the wire (frame headers included), by command.",
            preAuthCloses: "Cluster connections closed before a valid hello, by reason.",
            budgetInUse: "Bytes the listener's peers make the node hold now (limits.max_buffered_bytes for the cluster).",
            budgetLimit: "The memory budget's limit.",
            syncDuration: "Duration of each sync step (integrity_check, integrity_sync), ended well or not.",
            syncs: "Sync steps by kind and outcome.",
            lastSync: "Unix time of the last successful integrity sync, per worker.",
            files: "Files an integrity sync created, updated or deleted on this worker.",
            deletionGuard: "Integrity syncs whose deletions the deletion guard (limits.max_delete_fraction) refused.",
            agentInfoRows: "Agent-info rows this master applied or refused.",
            agentGroupsFull: "Agent-groups full syncs sent by this master.",
            dapiRequests: "Distributed API requests executed on this node, by operation and outcome.",
            dapiDuration: "Execution time of distributed API requests on this node, by operation.",
            dapiQueue: "Distributed API requests waiting for an execution slot.",
            dapiRunning: "Distributed API requests holding an execution slot.",
            rss: "Resident memory of the process, bytes (/proc/self/statm).",
            fds: "Open file descriptors of the process (/proc/self/fd).",
            startTime: "Start time of the process since the Unix epoch, seconds.",
            uptime: "Seconds since the process started.",
        ]

        static let durationBuckets: [String: [Duration]] = [
            syncDuration: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                           .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300)],
            dapiDuration: [.microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
                           .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)],
        ]
    }

    /// The cluster commands counted under their own name; every other command is `other`.
    static let commandTable: [String] = [
        ClusterCommand.ok, ClusterCommand.err, ClusterCommand.okMaster, ClusterCommand.okClient,
        ClusterCommand.echo, ClusterCommand.newFile, ClusterCommand.fileUpdate, ClusterCommand.fileEnd,
        ClusterCommand.newString, ClusterCommand.stringUpdate, ClusterCommand.errorString, ClusterCommand.cancelTask,
        ClusterCommand.dapiError, ClusterCommand.hello, ClusterCommand.keepalive, ClusterCommand.integrityPermission,
        ClusterCommand.integrityStart, ClusterCommand.integrityEnd, ClusterCommand.integrityError,
        ClusterCommand.agentInfoPermission, ClusterCommand.agentInfoStart, ClusterCommand.agentGroupsFullRequest,
        ClusterCommand.agentGroupsResult, ClusterCommand.agentGroupsError, ClusterCommand.agentGroupsFullResult,
        ClusterCommand.agentGroupsFullError, ClusterCommand.dapi, ClusterCommand.dapiResponse, ClusterCommand.dapiForward,
        ClusterCommand.getNodes, ClusterCommand.getHealth, ClusterCommand.getHash, ClusterCommand.getConfig,
        ClusterCommand.sendSync, ClusterCommand.masterKeepalive, ClusterCommand.integrityOK, ClusterCommand.integritySync,
        ClusterCommand.integritySyncEnd, ClusterCommand.integritySyncError, ClusterCommand.agentGroups,
        ClusterCommand.agentGroupsFull, ClusterCommand.agentInfoResult, ClusterCommand.agentInfoError,
        ClusterCommand.controlResponse,
    ]

    /// The four traffic counters of one command, made once.
    final class Traffic: Sendable {
        let framesIn, framesOut, bytesIn, bytesOut: Counter
        init(_ command: String, _ f: MetricsFactory) {
            let d = [("command", command)]
            framesIn = Counter(label: Name.framesReceived, dimensions: d, factory: f)
            framesOut = Counter(label: Name.framesSent, dimensions: d, factory: f)
            bytesIn = Counter(label: Name.bytesReceived, dimensions: d, factory: f)
            bytesOut = Counter(label: Name.bytesSent, dimensions: d, factory: f)
        }
    }

    /// Why a cluster connection was closed before its hello was accepted.
    enum PreAuthReason: String, CaseIterable {
        case helloTimeout = "hello_timeout"
        case helloRefused = "hello_refused"
        case undecryptable
        case frameRefused = "frame_refused"
        case payloadCap = "payload_cap"
        case stalled
        case tooManyConnections = "too_many_connections"
        case peerClosed = "peer_closed"
    }

    enum DapiOutcome: String, CaseIterable { case ok, failed, timedOut = "timed_out", refused }

    /// Most distinct node names a label takes; later names share `other`.
    static let maxNodeLabels = 1024

    let factory: MetricsFactory
    private let traffic: [String: Traffic]
    private let otherTraffic: Traffic
    let decryptFailures: Counter
    private let preAuth: [PreAuthReason: Counter]
    let clusterBudgetUsed, localBudgetUsed, clusterBudgetLimit, localBudgetLimit: Gauge
    let filesCreated, filesUpdated, filesDeleted: Counter
    let deletionGuardRefusals: Counter
    let agentInfoApplied, agentInfoRefused: Counter
    let agentGroupsFullSyncs: Counter
    let dapiQueueDepth, dapiRunning: Gauge
    let rss, openFDs, startTime, uptime: Gauge
    private let dapiOps: [String: (outcomes: [DapiOutcome: Counter], duration: CoreMetrics.Timer)]
    private let dapiOther: [DapiOutcome: Counter]
    /// Made on first use: label sets that are not known up front (sync kinds, error codes,
    /// worker names); each is rare (a sync, a hello), so a lock is fine.
    private let dynamic = NIOLockedValueBox<[String: any AnyObject & Sendable]>([:])
    private let nodeLabels = NIOLockedValueBox<Set<String>>([])

    init(factory f: MetricsFactory) {
        factory = f
        var t = [String: Traffic]()
        for c in NodeMetrics.commandTable { t[c] = Traffic(c, f) }
        traffic = t
        otherTraffic = Traffic("other", f)
        decryptFailures = Counter(label: Name.decryptFailures, factory: f)
        var p = [PreAuthReason: Counter]()
        for r in PreAuthReason.allCases { p[r] = Counter(label: Name.preAuthCloses, dimensions: [("reason", r.rawValue)], factory: f) }
        preAuth = p
        clusterBudgetUsed = Gauge(label: Name.budgetInUse, dimensions: [("listener", "cluster")], factory: f)
        localBudgetUsed = Gauge(label: Name.budgetInUse, dimensions: [("listener", "local")], factory: f)
        clusterBudgetLimit = Gauge(label: Name.budgetLimit, dimensions: [("listener", "cluster")], factory: f)
        localBudgetLimit = Gauge(label: Name.budgetLimit, dimensions: [("listener", "local")], factory: f)
        filesCreated = Counter(label: Name.files, dimensions: [("action", "created")], factory: f)
        filesUpdated = Counter(label: Name.files, dimensions: [("action", "updated")], factory: f)
        filesDeleted = Counter(label: Name.files, dimensions: [("action", "deleted")], factory: f)
        deletionGuardRefusals = Counter(label: Name.deletionGuard, factory: f)
        agentInfoApplied = Counter(label: Name.agentInfoRows, dimensions: [("outcome", "applied")], factory: f)
        agentInfoRefused = Counter(label: Name.agentInfoRows, dimensions: [("outcome", "refused")], factory: f)
        agentGroupsFullSyncs = Counter(label: Name.agentGroupsFull, factory: f)
        dapiQueueDepth = Gauge(label: Name.dapiQueue, factory: f)
        dapiRunning = Gauge(label: Name.dapiRunning, factory: f)
        rss = Gauge(label: Name.rss, factory: f)
        openFDs = Gauge(label: Name.fds, factory: f)
        startTime = Gauge(label: Name.startTime, factory: f)
        uptime = Gauge(label: Name.uptime, factory: f)
        func outcomes(_ op: String) -> [DapiOutcome: Counter] {
            var o = [DapiOutcome: Counter]()
            for r in DapiOutcome.allCases {
                o[r] = Counter(label: Name.dapiRequests, dimensions: [("operation", op), ("outcome", r.rawValue)], factory: f)
            }
            return o
        }
        var ops = [String: (outcomes: [DapiOutcome: Counter], duration: CoreMetrics.Timer)]()
        for name in OperationRegistry.standard.names {
            ops[name] = (outcomes(name), CoreMetrics.Timer(label: Name.dapiDuration, dimensions: [("operation", name)], factory: f))
        }
        dapiOps = ops
        dapiOther = outcomes("other")
        // The integrity steps' series exist from the start at 0, so that the first sync is an
        // increase a query can see, not a series appearing.
        for kind in ["integrity_check", "integrity_sync"] { sync(kind, seconds: nil, ok: nil) }
    }

    // MARK: recording

    /// A whole message in: its frames and its bytes on the wire.
    @inline(__always)
    func received(_ command: String, frames: Int, bytes: Int) {
        let t = traffic[command] ?? otherTraffic
        t.framesIn.increment(by: frames)
        t.bytesIn.increment(by: bytes)
    }

    /// A message out. A reply's name may carry the trailing space the reference sends.
    @inline(__always)
    func sent(_ command: String, frames: Int, bytes: Int) {
        let t = traffic[command] ?? (command.hasSuffix(" ") ? traffic[NodeMetrics.trimmed(command)] : nil) ?? otherTraffic
        t.framesOut.increment(by: frames)
        t.bytesOut.increment(by: bytes)
    }

    static func trimmed(_ command: String) -> String {
        var s = Substring(command)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }

    func preAuthClose(_ reason: PreAuthReason) { preAuth[reason]?.increment() }

    private func cached<T: AnyObject & Sendable>(_ key: String, _ make: () -> T) -> T {
        dynamic.withLockedValue { d in
            if let o = d[key] as? T { return o }
            let o = make()
            d[key] = o
            return o
        }
    }

    /// A node name as a label value, bounded in number.
    private func nodeLabel(_ name: String) -> String {
        nodeLabels.withLockedValue { names in
            if names.contains(name) { return name }
            guard names.count < NodeMetrics.maxNodeLabels else { return "other" }
            names.insert(name)
            return name
        }
    }

    func helloRefused(code: Int) {
        cached("hello \(code)") { Counter(label: Name.helloRefusals, dimensions: [("code", String(code))], factory: factory) }.increment()
    }

    /// One sync step ended: its duration, its outcome (nil: only make the series).
    func sync(_ kind: String, seconds: Double?, ok: Bool?) {
        let timer = cached("sync-duration \(kind)") { CoreMetrics.Timer(label: Name.syncDuration, dimensions: [("kind", kind)], factory: factory) }
        if let seconds { timer.recordNanoseconds(Int64(max(0, seconds) * 1e9)) }
        for outcome in ["ok", "failed"] {
            let counter = cached("syncs \(kind) \(outcome)") {
                Counter(label: Name.syncs, dimensions: [("kind", kind), ("outcome", outcome)], factory: factory)
            }
            if let ok, ok == (outcome == "ok") { counter.increment() }
        }
    }

    /// A successful integrity sync of `worker` (the master's view; a worker records its own).
    func syncSucceeded(worker: String, at date: Date = Date()) {
        let label = nodeLabel(worker)
        cached("last-sync \(label)") { Gauge(label: Name.lastSync, dimensions: [("worker", label)], factory: factory) }
            .record(date.timeIntervalSince1970)
    }

    func workerConnection(_ worker: String, connected: Bool) {
        let label = nodeLabel(worker)
        cached("worker-connected \(label)") { Gauge(label: Name.workerConnected, dimensions: [("worker", label)], factory: factory) }
            .record(connected ? 1 : 0)
    }

    func applied(created: Int, updated: Int, deleted: Int) {
        filesCreated.increment(by: created)
        filesUpdated.increment(by: updated)
        filesDeleted.increment(by: deleted)
    }

    /// The master's count of workers (made by the master only: a worker has none).
    func connectedWorkers(_ n: Int) {
        cached("connected-workers") { Gauge(label: Name.connectedWorkers, factory: factory) }.record(n)
    }

    /// A master's failover role (made by masters with `ha` only).
    func haLeader(_ leading: Bool) {
        cached("ha-leader") { Gauge(label: Name.haLeader, factory: factory) }.record(leading ? 1 : 0)
    }

    /// The worker's link to its master (made by the worker only).
    func masterConnected(_ up: Bool) {
        cached("master-connected") { Gauge(label: Name.masterConnected, factory: factory) }.record(up ? 1 : 0)
    }

    func agentInfoRows(applied: Int, refused: Int) {
        agentInfoApplied.increment(by: applied)
        agentInfoRefused.increment(by: refused)
    }

    func dapi(_ operation: String?, _ outcome: DapiOutcome, seconds: Double?) {
        let op = operation.flatMap { dapiOps[$0] }
        (op?.outcomes ?? dapiOther)[outcome]?.increment()
        if let seconds, let op { op.duration.recordNanoseconds(Int64(max(0, seconds) * 1e9)) }
    }

    /// Marks the node's name and type (a constant series, for dashboards' legends).
    func nodeInfo(name: String, type: String) {
        cached("info") { Gauge(label: Name.info, dimensions: [("node", name), ("type", type)], factory: factory) }.record(1)
    }

    /// The process's own figures, read from /proc when scraped.
    func sampleProcess(startedAt: Date) {
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
           let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) {
            rss.record(pages * Int(sysconf(Int32(_SC_PAGESIZE))))
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            // The listing's own descriptor is among them.
            openFDs.record(max(0, fds.count - 1))
        }
        startTime.record(startedAt.timeIntervalSince1970)
        uptime.record(Date().timeIntervalSince(startedAt))
    }
}

extension DapiAnswer {
    var metricsOutcome: NodeMetrics.DapiOutcome {
        switch self {
        case .result, .encoded: return .ok
        case .failure(let e): return e.code == 3021 ? .timedOut : .failed
        }
    }
}
