import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The master's integrity work (sync §4): the periodic snapshot of its own files, and for each
/// worker that asks, the check (compare its snapshot) and the sync (send what differs).
///
/// Deliberate differences from the reference: no permission is granted before the master's first
/// scan has finished (a worker checked against an empty snapshot would have every file deleted);
/// a classification that would delete too much is refused (`limits.max_delete_fraction`); the
/// compare, the pack and the scans run on the thread pool, never on an event loop; and a task id
/// named in `syn_i_w_m_e` that we do not know never makes us delete an arbitrary path.
final class MasterIntegrity: Sendable {
    let context: NodeContext
    let logger: Logger

    struct State {
        /// Workers that already asked for permission during the current scan cycle.
        var askedThisCycle: Set<String> = []
        var snapshot: Snapshot?
        var tasks: [String: CheckTask] = [:]
        var zipLimits: [String: ZipSizeLimit] = [:]
    }

    final class CheckTask: Sendable {
        let id: String
        let worker: String
        let file = OneShot<String>()
        init(id: String, worker: String) { self.id = id; self.worker = worker }
    }

    let state = NIOLockedValueBox(State())
    let cache: ScanCache
    let cachePath: String
    /// What changed since the last scan (nil with `intervals.master.watch_integrity` false). Only
    /// the scans use it, one at a time.
    let changes: ChangeTracker?

    init(context: NodeContext) {
        self.context = context
        logger = context.logger("Master").tagged("Local integrity")
        cachePath = context.path("var/db/cluster-integrity.cache")
        cache = ScanCache.load(path: cachePath, root: context.config.root)
        let intervals = context.config.intervals
        changes = intervals.masterWatchIntegrity ? ChangeTracker(fullWalkInterval: intervals.masterFullIntegrityWalk) : nil
    }

    var config: ClusterConfig { context.config }

    var snapshot: Snapshot? { state.withLockedValue { $0.snapshot } }

    // MARK: the master's own files

    func recalculationLoop(_ shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered && !Task.isCancelled {
            await recalculate()
            guard (try? await Task.sleep(for: .seconds(config.intervals.masterRecalculateIntegrity))) != nil else { return }
        }
    }

    /// One scan with the persisted cache; the permission cycle restarts whatever happens. While
    /// watching, only the directories that changed are read (see `ChangeTracker`).
    func recalculate() async {
        let start = Date()
        defer { state.withLockedValue { $0.askedThisCycle.removeAll() } }
        do {
            let root = config.root, rules = config.fileRules, cache = self.cache, cachePath = self.cachePath
            let changes = self.changes
            let (result, cacheError) = try await context.threadPool.runIfActive { () throws -> (ScanResult, Error?) in
                let r = try Scanner(root: root, rules: rules).scan(cache: cache, changes: changes)
                // Between scans the cache's content is on disk only (8 MB for 50,000 files): the
                // next scan that walks reads it back; one that reuses the last result needs none.
                // (While watching: without a watch every scan walks, and it stays in memory.)
                defer { if changes != nil { cache.release(backedBy: cachePath) } }
                // The cache only saves work: a disk that is full (or read-only) must not cost
                // the snapshot. It is saved again after the next scan that changes it (and
                // kept in memory until then).
                guard cache.changed else { return (r, nil) }
                do {
                    try FileSystem.makeDirectory((cachePath as NSString).deletingLastPathComponent, mode: 0o750)
                    try cache.save(to: cachePath)
                    return (r, nil)
                } catch { return (r, error) }
            }
            if let cacheError { logger.warning("Cannot save the integrity cache (the snapshot is still used): \(cacheError)") }
            for note in result.notes { logger.warning("\(note)") }
            for issue in result.issues.prefix(20) { logger.warning("\(issue.path): \(issue.message)") }
            // The swap alone under the lock: comparing (and freeing) a snapshot of many files
            // there would stall every worker session that asks for `snapshot` or permission.
            let previous = state.withLockedValue { s -> Snapshot? in
                defer { s.snapshot = result.snapshot }
                return s.snapshot
            }
            let changed = previous != result.snapshot
            let msg = "Finished in \(String(format: "%.3f", Date().timeIntervalSince(start))) s. Calculated metadata of \(result.snapshot.count) files."
            if changed {
                logger.info("\(msg)")
                context.threadPool.submit { _ in HeapRelease.trim() }
            } else { logger.debug("\(msg)") }
            if case .full(let why?) = result.walk, changes != nil {
                logger.debug("Full walk (\(why)): \(result.stats.directoriesRead) directories read, \(result.stats.statted) files stat'ed.")
            }
        } catch {
            logger.error("Error calculating local integrity: \(error)")
        }
    }

    // MARK: requests from a worker

    /// `syn_i_w_m_p`: at most once per worker per cycle, only while its lock is free, and never
    /// before the first scan.
    func permission(for session: MasterWorkerSession) -> Bool {
        guard let name = session.name else { return false }
        let first = state.withLockedValue { s -> Bool in
            guard s.snapshot != nil else { return false }
            return s.askedThisCycle.insert(name).inserted
        }
        guard first else { return false }
        return session.state.withLockedValue { s -> Bool in
            if let since = s.integrityLockedSince {
                guard MasterAgents.seconds(since: since) > config.intervals.masterMaxLockedIntegrityTime else { return false }
                s.logger.warning("Integrity lock held for more than \(Int(config.intervals.masterMaxLockedIntegrityTime)) s: releasing it.")
                s.integrityLockedSince = nil
                s.status.syncIntegrityFree = true
            }
            return true
        }
    }

    /// `syn_i_w_m`: takes the worker's lock and waits for its metadata file.
    func startCheck(for session: MasterWorkerSession, requestedID: String) throws -> String {
        guard let worker = session.name else { throw ClusterError.wazuh(1000, "no hello") }
        // As the reference: a non-empty payload is used as the task id.
        let id = requestedID.isEmpty ? SecureRandom.uuid4() : String(requestedID.prefix(128))
        try SafePath.validateRelative(id)
        let task = CheckTask(id: id, worker: worker)
        session.state.withLockedValue { s in
            s.integrityLockedSince = ContinuousClock.now
            s.status.syncIntegrityFree = false
        }
        state.withLockedValue { $0.tasks[id] = task }
        context.tasks.spawn(boundTo: session.connection) { await self.runCheck(task, session: session) }
        return id
    }

    /// `syn_i_w_m_e <task> <path>`: the worker's metadata file has arrived.
    func fileReceived(for session: MasterWorkerSession, payload r: IncomingRequest) throws -> Reply {
        guard let (id, pathBytes) = r.splitFirstSpace() else { throw ClusterError.wazuh(1000, "expected '<task id> <path>'") }
        let path = String(decoding: pathBytes, as: UTF8.self)
        let received = session.connection.claimReceivedFile(path)
        guard let task = state.withLockedValue({ $0.tasks[id] }), task.worker == session.name else {
            // The reference deletes whatever path it was given; we delete only a file this very
            // connection sent us.
            if let received { unlink(received) }
            throw ClusterError.wazuh(3027, id)
        }
        guard let received else {
            task.file.fail(ClusterError.wazuh(3034, path))
            throw ClusterError.wazuh(3034, path)
        }
        task.file.succeed(received)
        return .ok("File correctly received")
    }

    /// `syn_i_w_m_r <task|None> <error>`: the worker gave up; its lock is freed.
    func workerReportedError(for session: MasterWorkerSession, payload r: IncomingRequest) -> Reply {
        let (id, errorBytes) = r.splitFirstSpace() ?? (r.text, [])
        let error = WireError.decode(errorBytes)
        session.logger.error("The worker reported an integrity error: \(error)")
        if let task = state.withLockedValue({ $0.tasks[id] }) { task.file.fail(error) }
        release(session)
        return .ok("Error received")
    }

    func workerDisconnected(_ session: MasterWorkerSession) {
        let tasks = state.withLockedValue { s -> [CheckTask] in
            let mine = s.tasks.values.filter { $0.worker == session.name }
            for t in mine { s.tasks.removeValue(forKey: t.id) }
            return mine
        }
        for t in tasks { t.file.fail(ClusterError.wazuh(3018, "worker disconnected")) }
    }

    private func release(_ session: MasterWorkerSession) {
        session.state.withLockedValue { s in
            s.integrityLockedSince = nil
            s.status.syncIntegrityFree = true
        }
    }

    // MARK: check and sync

    private func runCheck(_ task: CheckTask, session: MasterWorkerSession) async {
        let conn = session.connection
        let checkLog = session.logger.tagged("Worker \(task.worker)")
        var log = checkLog
        log[metadataKey: "subtag"] = "Integrity check"
        defer {
            state.withLockedValue { _ = $0.tasks.removeValue(forKey: task.id) }
            release(session)
            // The worker's snapshot, the classification and the pack's buffers are gone: give
            // their pages back rather than keep the peak of this sync for good.
            context.threadPool.submit { _ in HeapRelease.trim() }
        }
        let received: String
        do {
            received = try await task.file.wait(timeout: config.intervals.timeoutReceivingFile, on: conn.eventLoop,
                                                timeoutError: ClusterError.wazuh(3039, task.id))
        } catch let e as ClusterError where e.code == 3039 {
            log.error("Timeout while waiting to receive the worker's file.")
            _ = try? await conn.request(ClusterCommand.cancelTask, Array("\(task.id) ".utf8) + WireError.payload(e))
            return
        } catch {
            log.error("\(error)")
            return
        }
        let start = Date()
        log.info("Starting.")
        session.updateStatus { $0.integrityCheckStart = ClusterDate.format(start) }
        guard let master = snapshot else {
            unlink(received)
            log.error("No local snapshot yet: refusing to compare.")
            return
        }
        let rules = config.fileRules
        let maxDelete = config.limits.maxDeleteFraction
        let classified: (PendingSync, Int, ClusterError?)
        do {
            classified = try await context.threadPool.runIfActive {
                defer { unlink(received) }
                // Classified as the worker's metadata is inflated: neither the document nor a
                // worker snapshot is held whole.
                let check = try WorkerSnapshotCheck.run(master: master, containerPath: received, rules: rules,
                                                        source: "the worker's metadata")
                var c = check.classification
                // Too many deletions: the deletions are refused, what is missing or changed is
                // still sent.
                do {
                    try DeletionGuard(maxDeleteFraction: maxDelete).check(c, master: master, workerCounts: check.workerCountsByRule)
                    return (PendingSync(c), check.workerCount, nil)
                } catch let refusal as ClusterError {
                    c.extra = Snapshot()
                    return (PendingSync(c), check.workerCount, refusal)
                }
            }
        } catch {
            log.error("Refused the check: \(error)")
            context.stats.recordSync("integrity_check", since: start, ok: false)
            session.updateStatus { $0.integrityCheckEnd = ClusterDate.format(Date()) }
            _ = try? await conn.request(ClusterCommand.integritySyncError, Array("None ".utf8) + WireError.payload(error as? ClusterError ?? .wazuh(1000, "\(error)")))
            return
        }
        let (pending, workerCount, refusal) = classified
        if let refusal {
            NodeMetrics.shared.deletionGuardRefusals.increment()
            log.error("Deletions not sent (limits.max_delete_fraction \(maxDelete)): \(refusal.message)")
        }
        let end = Date()
        session.updateStatus { $0.integrityCheckEnd = ClusterDate.format(end) }
        context.stats.recordSync("integrity_check", since: start, ok: true)
        let took = String(format: "%.3f", end.timeIntervalSince(start))
        if pending.counts.missing == 0 && pending.counts.extra == 0 && pending.counts.shared == 0 {
            log.info("Finished in \(took) s. Received metadata of \(workerCount) files. Sync not required.")
            do { _ = try await conn.requestOK(ClusterCommand.integrityOK) } catch { log.error("Could not tell the worker: \(error)") }
            return
        }
        log.info("Finished in \(took) s. Received metadata of \(workerCount) files. Sync required.")
        var syncLog = checkLog
        syncLog[metadataKey: "subtag"] = "Integrity sync"
        await sync(pending, to: session, log: syncLog)
    }

    /// A classification to send, held only until its container is packed: the send that follows
    /// (seconds for 50,000 files) then holds nothing per file.
    final class PendingSync: @unchecked Sendable {
        private var held: Classification?
        let counts: (missing: Int, extra: Int, shared: Int)
        init(_ c: Classification) { held = c; counts = c.counts }
        /// The classification, once: it is let go with the pack.
        func take() -> Classification { defer { held = nil }; return held ?? Classification() }
    }

    private func sync(_ pending: PendingSync, to session: MasterWorkerSession, log: Logger) async {
        let counts = pending.counts
        let conn = session.connection
        guard let worker = session.name else { return }
        let start = Date()
        log.info("Starting.")
        log.info("Files to create in worker: \(counts.missing) | Files to update in worker: \(counts.shared) | Files to delete in worker: \(counts.extra)")
        session.updateStatus { s in
            s.integritySyncStart = ClusterDate.format(start)
            s.filesMissing = counts.missing
            s.filesShared = counts.shared
            s.filesExtra = counts.extra
        }
        let relative = ContainerFiles.relativePath(worker: worker, node: config.nodeName)
        let absolute = context.path(relative)
        defer { unlink(absolute) }
        let limit = state.withLockedValue { $0.zipLimits[worker]?.current } ?? config.intervals.maxZipSize
        var workerTask: String? = nil
        do {
            let root = config.root, rules = config.fileRules
            let dropped = try await context.threadPool.runIfActive {
                // The classification, the pack's plan and read-ahead (about 20 MB for 50,000
                // files) are freed: give their pages back before the send, rather than add the
                // send's buffers on top.
                defer { HeapRelease.trim() }
                return try ContainerFiles.create(absolute) { sink in
                    try ContainerWriter.pack(pending.take(), root: root, rules: rules, into: sink, maxSize: limit).dropped.prefix(20)
                }
            }
            for (path, why) in dropped { log.warning("Not sent: \(path): \(why)") }
            let id = try await conn.requestOK(ClusterCommand.integritySync).text
            workerTask = id
            let sendStart = Date()
            try await conn.sendFile(absolute, as: "/" + relative, task: id)
            _ = try await conn.requestOK(ClusterCommand.integritySyncEnd, "\(id) \(relative)")
            let seconds = Date().timeIntervalSince(sendStart), timeout = config.intervals.timeoutReceivingFile
            adjustZipLimit(worker) { $0.recordCompleted(seconds: seconds, timeoutReceivingFile: timeout) }
            let end = Date()
            session.updateStatus { s in
                s.integritySyncEnd = ClusterDate.format(end)
            }
            log.info("Finished in \(String(format: "%.3f", end.timeIntervalSince(start))) s.")
            context.stats.recordSync("integrity_sync", since: start, ok: true)
            NodeMetrics.shared.syncSucceeded(worker: worker, at: end)
        } catch {
            context.stats.recordSync("integrity_sync", since: start, ok: false)
            let sendError = error as? FileSendError
            let e = sendError?.underlying ?? error as? ClusterError ?? .wazuh(1000, "\(error)")
            if e.code == 3039 {
                // What got through before the worker cancelled, not nothing: shrinking to the
                // floor after every interruption would make each later sync needlessly small.
                let sent = sendError?.bytesSent ?? 0
                adjustZipLimit(worker) { $0.recordInterrupted(bytesSentBeforeInterruption: sent) }
            }
            log.error("Error sending files to the worker: \(e)")
            _ = try? await conn.request(ClusterCommand.integritySyncError, Array("\(workerTask ?? "None") ".utf8) + WireError.payload(e))
        }
    }

    /// The reference's adaptive container size, per worker (sync §4.5).
    private func adjustZipLimit(_ worker: String, _ change: (inout ZipSizeLimit) -> Void) {
        let initial = ZipSizeLimit(intervals: config.intervals)
        state.withLockedValue { s in change(&s.zipLimits[worker, default: initial]) }
    }
}
