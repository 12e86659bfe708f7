import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The master's agent work (sync §5–6): it applies each worker's agent-info push to its store,
/// broadcasts agent-groups deltas, answers full-sync requests, and keeps the per-node active
/// agent counts that health reports.
///
/// Handlers stay prompt: a push is applied in a task of its own (one write transaction, on
/// GRDB's writer queue, never on an event loop) and its result goes back as a new request
/// (`syn_m_a_e`), as the reference does. Agent-groups sends to one worker are serialised and
/// bounded: while one is in flight, newer deltas merge into a single pending one, so a slow
/// worker never collects a backlog (the reference's queue is unbounded).
final class MasterAgents: Sendable {
    let context: NodeContext
    let registry: WorkerRegistry
    let logger: Logger
    private let store: AgentStoreHandle

    struct Counts {
        var seq: Int64 = -1
        var byNode: [String: Int] = [:]
        var refreshed: ContinuousClock.Instant? = nil
        /// Seconds the last count took.
        var cost = 0.0
    }
    private let counts = NIOLockedValueBox(Counts())

    /// One worker's agent-groups sends: at most one in flight, one merged delta and one full
    /// sync waiting.
    struct Outbox {
        var sending = false
        var delta: [Int: [String]]? = nil
        var hash: String? = nil
        var full = false
    }
    private let outboxes = NIOLockedValueBox<[ObjectIdentifier: Outbox]>([:])

    init(context: NodeContext, registry: WorkerRegistry) {
        self.context = context
        store = AgentStoreHandle(config: context.config)
        self.registry = registry
        logger = context.logger("Master")
    }

    var config: ClusterConfig { context.config }

    /// Opens the store (once); the daemon calls this at start so a bad store stops it at once.
    @discardableResult
    func open() throws -> AgentStore { try store.open() }

    // MARK: agent-info

    /// `syn_a_w_m_p`: one push per worker at a time.
    func permission(for session: MasterWorkerSession) -> Bool {
        session.state.withLockedValue { $0.status.syncAgentInfoFree }
    }

    /// `syn_a_w_m <string id>`: takes the string, answers at once, applies in a task.
    func startAgentInfo(for session: MasterWorkerSession, stringID: String) -> Reply {
        // Boxed so the task can let go of the envelope as soon as it has read it.
        let envelope = NIOLockedValueBox<Result<[UInt8], Error>?>(Result { try session.connection.takeString(stringID) })
        session.updateStatus { s in
            s.syncAgentInfoFree = false
            s.agentInfoStart = ClusterDate.format(Date())
        }
        context.tasks.spawn(boundTo: session.connection) { await self.applyAgentInfo(envelope, for: session) }
        return .ok(stringID)
    }

    /// Reads the push on the thread pool (the envelope is released once its rows are records),
    /// then applies it in one write transaction: only the writes wait for the store's writer.
    private func applyAgentInfo(_ envelope: NIOLockedValueBox<Result<[UInt8], Error>?>, for session: MasterWorkerSession) async {
        let log = session.logger.subtagged("Agent-info sync")
        let started = ContinuousClock.now
        log.info("Starting.")
        defer { session.updateStatus { $0.syncAgentInfoFree = true } }
        let conn = session.connection
        do {
            guard let node = session.name else { return }
            let push = try await context.threadPool.runIfActive {
                let bytes = envelope.withLockedValue { held in
                    defer { held = nil }
                    return held ?? .failure(ClusterError.internalError("the agent-info envelope was already taken"))
                }
                return try AgentInfoRows(envelope: bytes.get())
            }
            let read = Self.seconds(since: started)
            let outcome = try await open().applyAgentInfo(push, from: node, timeLimit: config.intervals.masterTimeoutAgentInfo,
                                                          keepaliveSkew: config.limits.maxKeepaliveSkew)
            let spent = Self.seconds(since: started)
            session.updateStatus { s in
                s.agentInfoEnd = ClusterDate.format(Date())
                s.agentInfoChunks = outcome.updatedChunks
                // The worker may ask for its next push as soon as it has this one's result.
                s.syncAgentInfoFree = true
            }
            log.debug("Read \(push.rowCount) rows in \(String(format: "%.3f", read)) s, written in \(String(format: "%.3f", spent - read)) s (waiting for the store's writer included).")
            await refreshCountsIfDue()
            log.info("Finished in \(String(format: "%.3f", spent)) s. Updated \(outcome.updatedChunks) chunks.")
            NodeMetrics.shared.agentInfoRows(applied: outcome.applied, refused: outcome.future + outcome.oversize + outcome.errors.count)
            log.debug("Applied \(outcome.applied) agents, skipped \(outcome.stale) older than ours, removed \(outcome.removed).")
            if outcome.future > 0 || outcome.oversize > 0 {
                log.warning("Refused \(outcome.future) agents with a last_keepalive more than \(Int(config.limits.maxKeepaliveSkew)) s ahead of this clock and \(outcome.oversize) agents larger than one chunk.")
            }
            if !outcome.errors.isEmpty {
                log.error("\(outcome.errors.count) agents could not be applied: \(outcome.errors.prefix(20).joined(separator: "; "))")
            }
            let result = SyncResult(updatedChunks: outcome.updatedChunks, errorMessages: outcome.errors, timeSpent: spent)
            _ = try await conn.requestOK(ClusterCommand.agentInfoResult, result.bytes())
        } catch {
            log.error("Error applying agent-info: \(error)")
            _ = try? await conn.request(ClusterCommand.agentInfoError, "\(error)")
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        seconds(between: start, and: .now)
    }

    static func seconds(between start: ContinuousClock.Instant, and end: ContinuousClock.Instant) -> Double {
        let d = end - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: agent-groups

    /// The periodic broadcast: after `agent_group_start_delay`, every `sync_agent_groups` while
    /// at least one worker is connected, take the delta (even an empty one: it carries the hash
    /// the workers check) and queue it for every worker.
    func groupsLoop(_ shutdown: ShutdownSignal) async {
        guard (try? await Task.sleep(for: .seconds(config.intervals.masterAgentGroupStartDelay))) != nil else { return }
        while !shutdown.isTriggered {
            if registry.count > 0 {
                do {
                    let (entries, hash) = try await open().takeGroupDeltas()
                    for session in registry.sessions where session.name != nil {
                        enqueue(session) { box in
                            var merged = box.delta ?? [:]
                            for e in entries { merged[e.id] = e.groups }
                            box.delta = merged
                            box.hash = hash
                        }
                    }
                } catch {
                    logger.subtagged("Agent-groups send").error("Cannot read the agent-groups delta: \(error)")
                }
            }
            guard (try? await Task.sleep(for: .seconds(config.intervals.masterSyncAgentGroups))) != nil else { return }
        }
    }

    /// `syn_w_g_c`: the worker asks for everything; the full sync goes through its outbox so it
    /// never overtakes, or is overtaken by, a delta.
    func fullSyncRequested(by session: MasterWorkerSession) -> Reply {
        session.logger.subtagged("Agent-groups send full").info("The worker asked for a full agent-groups sync.")
        enqueue(session) { $0.full = true }
        return .ok("Sending all agent-groups")
    }

    private func enqueue(_ session: MasterWorkerSession, _ change: (inout Outbox) -> Void) {
        let key = ObjectIdentifier(session)
        let start = outboxes.withLockedValue { all -> Bool in
            var box = all[key] ?? Outbox()
            change(&box)
            let start = !box.sending
            box.sending = true
            all[key] = box
            return start
        }
        if start { context.tasks.spawn(boundTo: session.connection) { await self.drain(session) } }
    }

    private enum Work {
        case delta([AgentGroupsEntry], String?)
        case full
    }

    private func drain(_ session: MasterWorkerSession) async {
        let key = ObjectIdentifier(session)
        while true {
            let work: Work? = outboxes.withLockedValue { all in
                guard var box = all[key] else { return nil }
                defer { all[key] = box }
                if box.full {
                    // A full sync read now supersedes every delta read before it.
                    box.full = false
                    box.delta = nil
                    return .full
                }
                if let d = box.delta {
                    box.delta = nil
                    return .delta(d.keys.sorted().map { AgentGroupsEntry(id: $0, groups: d[$0]!) }, box.hash)
                }
                box.sending = false
                return nil
            }
            guard let work else { return }
            if session.connection.isClosed { continue }
            switch work {
            case .delta(let entries, let hash): await sendDelta(entries, hash: hash, to: session)
            case .full: await sendFull(to: session)
            }
        }
    }

    private func sendDelta(_ entries: [AgentGroupsEntry], hash: String?, to session: MasterWorkerSession) async {
        let log = session.logger.subtagged("Agent-groups send")
        session.updateStatus { $0.agentGroupsStart = ClusterDate.format(Date()) }
        do {
            let payload = try AgentGroupsPayload(entries: entries, hash: .some(hash))
            let id = try await session.connection.sendString(payload.envelope())
            _ = try await session.connection.requestOK(ClusterCommand.agentGroups, id)
            log.debug("Sent \(entries.count) agents in \(payload.chunks.count) chunks.")
        } catch {
            log.error("Error sending agent-groups: \(error)")
        }
    }

    private func sendFull(to session: MasterWorkerSession) async {
        let log = session.logger.subtagged("Agent-groups send full")
        let started = Date()
        session.updateStatus { $0.agentGroupsFullStart = ClusterDate.format(started) }
        log.info("Starting.")
        do {
            let store = try open()
            let fixed = try await store.recalculateGroupHashes()
            if fixed > 0 { log.warning("Recalculated \(fixed) agent group hashes that were wrong.") }
            let entries = try await store.allGroups()
            let payload = try AgentGroupsPayload(entries: entries, hash: nil)
            let id = try await session.connection.sendString(payload.envelope())
            _ = try await session.connection.requestOK(ClusterCommand.agentGroupsFull, id)
            session.updateStatus { s in
                s.agentGroupsFullEnd = ClusterDate.format(Date())
                s.agentGroupsFullChunks = payload.chunks.count
            }
            NodeMetrics.shared.agentGroupsFullSyncs.increment()
            log.info("Sent \(entries.count) agents in \(payload.chunks.count) chunks in \(String(format: "%.3f", Date().timeIntervalSince(started))) s.")
        } catch {
            log.error("Error sending all agent-groups: \(error)")
        }
    }

    /// `syn_w_g_e` / `syn_wgc_e` (the worker's result) and `syn_w_g_err` / `syn_wgc_err`.
    func groupsResult(for session: MasterWorkerSession, _ r: IncomingRequest) -> Reply {
        let full = r.command == ClusterCommand.agentGroupsFullResult || r.command == ClusterCommand.agentGroupsFullError
        let log = session.logger.subtagged(full ? "Agent-groups send full" : "Agent-groups send")
        switch r.command {
        case ClusterCommand.agentGroupsResult, ClusterCommand.agentGroupsFullResult:
            do {
                let result = try SyncResult(bytes: r.payload)
                let status = session.status
                let now = Date()
                let since = ClusterDate.parse(full ? status.agentGroupsFullStart : status.agentGroupsStart) ?? now
                if !full {
                    // The reference never fills these in; health shows them here.
                    session.updateStatus { s in
                        s.agentGroupsEnd = ClusterDate.format(now)
                        s.agentGroupsChunks = result.updatedChunks
                    }
                }
                log.info("Finished in \(String(format: "%.3f", now.timeIntervalSince(since))) s. Updated \(result.updatedChunks) chunks.")
                if !result.errorMessages.isEmpty {
                    log.error("The worker reported \(result.errorMessages.count) errors: \(result.errorMessages.prefix(20).joined(separator: "; "))")
                }
            } catch {
                log.error("Unreadable agent-groups result: \(error)")
            }
        default:
            log.error("The worker could not apply agent-groups: \(r.text)")
        }
        return .ok("Thanks")
    }

    func workerDisconnected(_ session: MasterWorkerSession) {
        _ = outboxes.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(session)) }
    }

    // MARK: health

    /// Active agents on `node`, from the cache: health never waits for the database.
    func activeAgents(_ node: String) -> Int { counts.withLockedValue { $0.byNode[node] ?? 0 } }

    /// Re-counts when the change counter moved, at most once a second and never more than 5 % of
    /// a core: a count reads every agent (about 0.1 s at 400,000), so one that took `d` seconds
    /// waits at least `20 d` for the next. Called after every push and once a second.
    func refreshCountsIfDue() async {
        let now = ContinuousClock.now
        let due = counts.withLockedValue { c -> Bool in
            if let last = c.refreshed, now - last < .milliseconds(Int64(max(1, 20 * c.cost) * 1000)) { return false }
            c.refreshed = now
            return true
        }
        if due { await refreshCounts() }
    }

    /// Re-counts when the store's change counter moved (a push, or a CLI write).
    func refreshCounts() async {
        do {
            let store = try open()
            let seq = try await store.changeCounter()
            guard seq != counts.withLockedValue({ $0.seq }) else { return }
            let started = ContinuousClock.now
            let byNode = try await store.activeAgentCounts()
            let cost = Self.seconds(since: started)
            counts.withLockedValue { c in
                c.seq = seq
                c.byNode = byNode
                c.cost = cost
            }
        } catch {
            logger.warning("Cannot count active agents: \(error)")
        }
    }

    func countsLoop(_ shutdown: ShutdownSignal) async {
        while !shutdown.isTriggered {
            await refreshCountsIfDue()
            guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
        }
    }
}

extension Logger {
    /// The same logger with a second bracketed tag, as the reference's task loggers
    /// (`[Worker w1] [Agent-info sync] ...`).
    func subtagged(_ subtag: String) -> Logger {
        var l = self
        l[metadataKey: "subtag"] = .string(subtag)
        return l
    }
}
