import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The outcome of one integrity cycle on a worker.
public enum IntegrityOutcome: Sendable {
    /// The master found nothing to change.
    case inSync
    /// The master sent files and they were applied.
    case synced(ApplyReport)
}

/// The worker's integrity work (sync §4.1): ask permission, send the snapshot, apply what the
/// master sends back — through the integrity applier, so the apply is staged and verified before
/// the first rename, confined to the root, and guarded against mass deletion.
final class WorkerIntegrity: Sendable {
    let context: NodeContext
    let onChange: String?
    let checkLog: Logger
    let syncLog: Logger

    struct State {
        /// An apply is in progress; no new check until it is done (the reference's
        /// `check_integrity_free`).
        var applying = false
        var receiving: [String: OneShot<String>] = [:]
        /// Whoever waits for the end of the current cycle (`sync integrity --once`).
        var cycle: OneShot<IntegrityOutcome>?
        /// When a cycle last ended with the tree equal to the master's (in sync, or synced).
        var lastInSync: Date?
    }
    let state = NIOLockedValueBox(State())
    let cache: ScanCache
    let cachePath: String

    init(context: NodeContext, onChange: String?) {
        self.context = context
        self.onChange = onChange
        let base = context.logger("Worker \(context.config.nodeName)")
        var c = base; c[metadataKey: "subtag"] = "Integrity check"
        var s = base; s[metadataKey: "subtag"] = "Integrity sync"
        checkLog = c
        syncLog = s
        cachePath = context.path("var/db/cluster-integrity.cache")
        cache = ScanCache.load(path: cachePath, root: context.config.root)
    }

    var config: ClusterConfig { context.config }

    /// The periodic check, while connected.
    ///
    /// The first check follows the hello at once (the reference sleeps one whole interval
    /// first): a cold worker should not wait `sync_integrity` seconds for its files. Until one
    /// check has gone through, a refused permission (a master still scanning) is asked again
    /// within a second rather than a whole interval later.
    func loop(_ conn: ClusterConnection) async throws {
        let interval = config.intervals.workerSyncIntegrity
        var checked = false
        var wait = 0.0
        while true {
            if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
            wait = checked ? interval : min(interval, 1)
            if state.withLockedValue({ $0.applying }) { continue }
            do {
                guard try await askPermission(conn) else { continue }
                checked = true
                wait = interval
                try await sendSnapshot(conn)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                checkLog.error("\(error)")
                if conn.isClosed { throw error }
            }
        }
    }

    func askPermission(_ conn: ClusterConnection) async throws -> Bool {
        let answer = try await conn.requestOK(ClusterCommand.integrityPermission).text
        if answer == "True" { checkLog.debug("Permission to synchronize granted.") }
        return answer == "True"
    }

    /// Scans, writes the metadata container and sends it (steps 2–5 of sync §4.1).
    func sendSnapshot(_ conn: ClusterConnection) async throws {
        let start = Date()
        checkLog.info("Starting.")
        let me = config.nodeName
        let relative = ContainerFiles.relativePath(worker: me, node: me)
        let absolute = context.path(relative)
        defer { unlink(absolute) }
        let root = config.root, rules = config.fileRules, cache = self.cache, cachePath = self.cachePath
        let count = try await context.threadPool.runIfActive { () throws -> Int in
            try FileSystem.makeDirectory((cachePath as NSString).deletingLastPathComponent, mode: 0o750)
            let scan = try Scanner(root: root, rules: rules).scan(cache: cache)
            if cache.changed { try cache.save(to: cachePath) }
            try ContainerFiles.create(absolute) { try ContainerWriter.writeSnapshot(scan.snapshot, into: $0) }
            return scan.snapshot.count
        }
        var task = "None"
        do {
            task = try await conn.requestOK(ClusterCommand.integrityStart).text
            try await conn.sendFile(absolute, as: "/" + relative, task: task)
            _ = try await conn.requestOK(ClusterCommand.integrityEnd, "\(task) \(relative)")
            checkLog.info("Finished in \(String(format: "%.3f", Date().timeIntervalSince(start))) s. Sent metadata of \(count) files.")
            context.stats.recordSync("integrity_check", since: start, ok: true)
        } catch {
            context.stats.recordSync("integrity_check", since: start, ok: false)
            let e = (error as? FileSendError)?.underlying ?? error as? ClusterError ?? .wazuh(1000, "\(error)")
            _ = try? await conn.request(ClusterCommand.integrityError, Array("\(task) ".utf8) + WireError.payload(e))
            throw e
        }
    }

    /// The master's side of the cycle: `syn_m_c_ok`, `syn_m_c`, `syn_m_c_e`, `syn_m_c_r`.
    func handleMaster(_ r: IncomingRequest, on conn: ClusterConnection) throws -> Reply {
        switch r.command {
        case ClusterCommand.integrityOK:
            checkLog.info("Sync not required.")
            finishCycle(.success(.inSync))
            return .ok("Thanks")
        case ClusterCommand.integritySync:
            let id = SecureRandom.uuid4()
            let file = OneShot<String>()
            state.withLockedValue { s in
                s.applying = true
                s.receiving[id] = file
            }
            context.tasks.spawn(boundTo: conn) { await self.receiveAndApply(id: id, file: file, conn: conn) }
            return .ok(id)
        case ClusterCommand.integritySyncEnd:
            guard let (id, pathBytes) = r.splitFirstSpace() else { throw ClusterError.wazuh(1000, "expected '<task id> <path>'") }
            let received = conn.claimReceivedFile(String(decoding: pathBytes, as: UTF8.self))
            guard let file = state.withLockedValue({ $0.receiving[id] }) else {
                if let received { unlink(received) }
                throw ClusterError.wazuh(3027, id)
            }
            guard let received else { throw ClusterError.wazuh(3034, String(decoding: pathBytes, as: UTF8.self)) }
            file.succeed(received)
            return .ok("File correctly received")
        case ClusterCommand.integritySyncError:
            let (id, errorBytes) = r.splitFirstSpace() ?? (r.text, [])
            let error = WireError.decode(errorBytes)
            syncLog.error("The master reported an error: \(error)")
            if let file = state.withLockedValue({ $0.receiving[id] }) {
                file.fail(error)
            } else {
                finishCycle(.failure(error))
            }
            return .ok("Error received")
        default:
            throw ClusterError.wazuh(1000, "unexpected \(r.command)")
        }
    }

    private func receiveAndApply(id: String, file: OneShot<String>, conn: ClusterConnection) async {
        defer { state.withLockedValue { s in s.applying = false; s.receiving.removeValue(forKey: id) } }
        let path: String
        do {
            path = try await file.wait(timeout: config.intervals.timeoutReceivingFile, on: conn.eventLoop, timeoutError: ClusterError.wazuh(3039, id))
        } catch let e as ClusterError where e.code == 3039 {
            syncLog.error("Timeout while waiting to receive the master's file.")
            _ = try? await conn.request(ClusterCommand.cancelTask, Array("\(id) ".utf8) + WireError.payload(e))
            finishCycle(.failure(e))
            return
        } catch {
            finishCycle(.failure(error))
            return
        }
        let start = Date()
        syncLog.info("Starting.")
        do {
            let root = config.root, rules = config.fileRules
            var options = ApplyOptions()
            options.deletionGuard = DeletionGuard(maxDeleteFraction: config.limits.maxDeleteFraction)
            let opts = options
            let report = try await context.threadPool.runIfActive { () throws -> ApplyReport in
                defer { unlink(path); HeapRelease.trim() }
                return try IntegrityApplier(root: root, rules: rules, options: opts).apply(containerAt: path)
            }
            syncLog.info("Files to create: \(report.created.count) | Files to update: \(report.updated.count) | Files to delete: \(report.deleted.count)")
            if !report.errors.isEmpty {
                syncLog.error("Found errors: \(report.errors.count) (\(report.errors.prefix(5).map { "\($0.path): \($0.message)" }.joined(separator: "; ")))")
            }
            syncLog.info("Finished in \(String(format: "%.3f", Date().timeIntervalSince(start))) s.")
            context.stats.recordSync("integrity_sync", since: start, ok: true)
            NodeMetrics.shared.applied(created: report.created.count, updated: report.updated.count, deleted: report.deleted.count)
            NodeMetrics.shared.syncSucceeded(worker: config.nodeName)
            finishCycle(.success(.synced(report)))
            // The next check waits for the hook: it must not see a tree the hook is still
            // reacting to.
            if report.changedAnything { await runOnChange(report) }
        } catch {
            let e = error as? ClusterError ?? .wazuh(1000, "\(error)")
            syncLog.error("Could not apply the master's files: \(e)")
            context.stats.recordSync("integrity_sync", since: start, ok: false)
            _ = try? await conn.request(ClusterCommand.integrityError, Array("None ".utf8) + WireError.payload(e))
            finishCycle(.failure(e))
        }
    }

    /// When the tree was last found equal to the master's (nil: never since start).
    var lastInSync: Date? { state.withLockedValue { $0.lastInSync } }

    private func finishCycle(_ r: Result<IntegrityOutcome, Error>) {
        if case .success = r { state.withLockedValue { $0.lastInSync = Date() } }
        guard let waiter = state.withLockedValue({ s -> OneShot<IntegrityOutcome>? in defer { s.cycle = nil }; return s.cycle }) else { return }
        switch r {
        case .success(let v): waiter.succeed(v)
        case .failure(let e): waiter.fail(e)
        }
    }

    /// Runs `--on-change` once with the apply report on its stdin, on the thread pool; a hook
    /// that exits without reading its input is not an error of ours.
    private func runOnChange(_ report: ApplyReport) async {
        guard let onChange else { return }
        let input = JSONWriter.compact.bytes(report.toJSON()) + [0x0A]
        do {
            let status = try await context.threadPool.runIfActive { try HookRunner.run(command: onChange, input: input) }
            if status != 0 { syncLog.warning("--on-change exited with status \(status)") }
        } catch {
            syncLog.error("Could not run --on-change: \(error)")
        }
    }

    /// One whole cycle for `cl-worker sync integrity --once`: permission (asked again until
    /// granted or `timeout`), the snapshot, and the master's answer applied.
    func runOnce(_ conn: ClusterConnection, timeout: Double) async throws -> IntegrityOutcome {
        // The monotonic clock: a wall-clock jump neither cuts the wait short nor stretches it.
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while !(try await askPermission(conn)) {
            guard ContinuousClock.now < deadline else {
                throw ClusterError.timeout("the master did not grant integrity permission within \(Int(timeout)) s")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let cycle = OneShot<IntegrityOutcome>()
        state.withLockedValue { $0.cycle = cycle }
        try await sendSnapshot(conn)
        let left = max(1, MasterAgents.seconds(between: .now, and: deadline))
        return try await cycle.wait(timeout: left, on: conn.eventLoop, timeoutError: ClusterError.timeout("no answer from the master within \(Int(timeout)) s"))
    }
}
