import ClusterKit
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The worker's agent work (sync §5–6): pushing its agents to the master, and applying the
/// master's agent-groups.
///
/// Agent-info is pushed at least once: rows are marked synced only when the master's
/// `syn_m_a_e` has arrived for this push (the reference marks them when it reads them, so a
/// push lost with the connection is lost for good). Changes written by the CLI are noticed
/// within `agent_info_change_delay` seconds (0: pushes only every `sync_agent_info`, as the
/// reference). Agent-groups applications run one at a time, in arrival order (the reference's
/// worker can run two at once).
final class WorkerAgents: Sendable {
    let context: NodeContext
    let logger: Logger
    private let store: AgentStoreHandle

    enum AgentInfoReply: Sendable {
        case result(SyncResult)
        case error(String)
    }

    struct State {
        var mismatches = 0
        /// Agent-groups received and not yet applied, in arrival order, and whether a task is
        /// applying them.
        var groupsQueue: [(bytes: Result<[UInt8], Error>, full: Bool)] = []
        var applyingGroups = false
    }
    private let state = NIOLockedValueBox(State())
    private let reply = ReplySlot<AgentInfoReply>()

    init(context: NodeContext) {
        self.context = context
        store = AgentStoreHandle(config: context.config)
        logger = context.logger("Worker \(context.config.nodeName)")
    }

    var config: ClusterConfig { context.config }

    /// Opens the store (once); the daemon calls this at start so a bad store stops it at once.
    @discardableResult
    func open() throws -> AgentStore { try store.open() }

    // MARK: agent-info

    /// What one push did, for logs and for `cl-worker sync agent-info --once`.
    struct PushReport: Sendable {
        var granted = true
        var agents = 0
        var removed = 0
        var chunks = 0
        var result: SyncResult? = nil

        var json: JSON {
            var o: JSON = ["granted": .bool(granted), "agents": .int(Int64(agents)), "removed_agents": .int(Int64(removed)),
                           "chunks": .int(Int64(chunks))]
            if let result {
                o["updated_chunks"] = .int(Int64(result.updatedChunks))
                o["error_messages"] = .array(result.errorMessages.map { .string($0) })
                o["time_spent"] = .double(result.timeSpent)
            }
            return o
        }
    }

    /// Pushes while connected: when local changes are waiting, at most every
    /// `agent_info_change_delay` seconds (or every `sync_agent_info` when that is 0).
    func loop(_ conn: ClusterConnection) async throws {
        state.withLockedValue { $0.mismatches = 0 }
        let delay = config.intervals.workerAgentInfoChangeDelay
        let period = delay > 0 ? delay : config.intervals.workerSyncAgentInfo
        let tick = min(period, 0.25)
        let log = logger.subtagged("Agent-info sync")
        var last: ContinuousClock.Instant? = nil
        while true {
            try await Task.sleep(for: .seconds(tick))
            if let last, ContinuousClock.now - last < .milliseconds(Int64(period * 1000)) { continue }
            do {
                guard try await open().hasPendingAgentInfo() else { continue }
                last = ContinuousClock.now
                let report = try await push(conn)
                if !report.granted {
                    log.debug("The master is still busy with our previous push; trying again later.")
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                log.error("Error synchronizing agent-info: \(error)")
                if conn.isClosed { throw error }
            }
        }
    }

    /// Row bytes one push carries at most (the row that reaches the bound is the last): about
    /// 13,000 agents of the benchmark's size. More pending rows go in the pushes that follow, one
    /// after another, so neither side ever holds a whole backlog: the master holds each worker's
    /// push whole until it is applied.
    static let maxPushRowBytes = 8 << 20

    /// A push read from the store and packed, ready to send.
    struct Prepared: Sendable {
        var pending: AgentStore.PendingAgentInfo
        var envelope: [UInt8]
        var agents: Int
        var chunks: Int
    }

    private func prepare(_ store: AgentStore, after: Int) async throws -> Prepared {
        let pending = try await store.pendingAgentInfo(afterID: after, maxRowBytes: Self.maxPushRowBytes)
        if pending.isEmpty { return Prepared(pending: pending, envelope: [], agents: 0, chunks: 0) }
        return try await context.threadPool.runIfActive {
            let chunks = try AgentInfoChunks(rows: pending.rows, removed: pending.removed)
            var p = pending
            // The rows are in the envelope now.
            p.rows = []
            return Prepared(pending: p, envelope: chunks.envelope(), agents: pending.rows.count, chunks: chunks.chunks.count)
        }
    }

    /// Pushes everything pending, in pushes of at most `maxPushRowBytes` of rows in id order,
    /// one at a time: each asked for, sent and confirmed by the master before the next is sent.
    /// While the master applies one, the next is read and packed; once it is confirmed, its rows
    /// are marked synced while the next travels. Each push clears only its own range of ids, so
    /// a row changed behind the cursor waits for the next round. Stops early when the master
    /// refuses the first push (it is busy with our previous one); a later refusal is asked again
    /// for a few seconds.
    func push(_ conn: ClusterConnection) async throws -> PushReport {
        let store = try open()
        var total = PushReport()
        var first = true
        var refusals = 0
        var after = 0
        var next: Task<Prepared, Error>? = nil
        var marking: Task<Void, Error>? = nil
        defer { next?.cancel() }
        do {
            while true {
                let log = logger.subtagged("Agent-info sync")
                let permission = try await conn.requestOK(ClusterCommand.agentInfoPermission)
                guard permission.text == "True" else {
                    if first {
                        total.granted = false
                        return total
                    }
                    // The master frees the slot just before it answers; a request that overtook
                    // that is refused. Ask again shortly.
                    refusals += 1
                    if refusals > 50 { break }
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                }
                first = false
                refusals = 0
                let started = ContinuousClock.now
                log.info("Starting.")
                let prepared: Prepared
                if let next { prepared = try await next.value } else { prepared = try await prepare(store, after: after) }
                next = nil
                let pending = prepared.pending
                if prepared.agents == 0 && pending.removed.isEmpty {
                    log.info("Finished in \(String(format: "%.3f", MasterAgents.seconds(since: started))) s. Updated 0 chunks.")
                    break
                }
                log.debug("Sending \(prepared.envelope.count) bytes: agents after \(pending.afterID) through \(pending.throughID.map(String.init) ?? "the last"), \(pending.removed.count) removals, \(prepared.chunks) chunks.")
                let result = try await send(prepared, on: conn)
                if let through = pending.throughID {
                    // Read the next while the master applies this one.
                    next = Task { try await self.prepare(store, after: through) }
                }
                let answer = try await result()
                // Marks stay in order; each waits for the previous.
                let previous = marking
                marking = Task {
                    try await previous?.value
                    try await store.markAgentInfoPushed(pending)
                }
                total.agents += prepared.agents
                total.removed += pending.removed.count
                total.chunks += prepared.chunks
                var sum = total.result ?? SyncResult(updatedChunks: 0, errorMessages: [], timeSpent: 0)
                sum.updatedChunks += answer.updatedChunks
                sum.errorMessages += answer.errorMessages
                sum.timeSpent += answer.timeSpent
                total.result = sum
                log.info("Finished in \(String(format: "%.3f", MasterAgents.seconds(since: started))) s. Updated \(answer.updatedChunks) chunks.")
                if !answer.errorMessages.isEmpty {
                    log.error("The master reported \(answer.errorMessages.count) errors: \(answer.errorMessages.prefix(20).joined(separator: "; "))")
                }
                guard let through = pending.throughID else { break }
                after = through
            }
        } catch {
            // What the master confirmed is still marked.
            _ = try? await marking?.value
            throw error
        }
        try await marking?.value
        return total
    }

    /// Sends a prepared push and `syn_a_w_m`; returns what waits for the master's result.
    private func send(_ prepared: Prepared, on conn: ClusterConnection) async throws -> @Sendable () async throws -> SyncResult {
        let id = try await conn.sendString(prepared.envelope)
        reply.arm()
        do {
            let answer = try await conn.requestOK(ClusterCommand.agentInfoStart, id)
            guard answer.text == id else {
                throw ClusterError.wazuh(3016, "the master answered syn_a_w_m with '\(answer.text.prefix(60))'")
            }
        } catch {
            reply.disarm()
            throw error
        }
        let wait = config.intervals.masterTimeoutAgentInfo + config.intervals.timeoutClusterRequest
        return { [reply] in
            defer { reply.disarm() }
            switch try await reply.wait(timeout: wait, on: conn.eventLoop,
                                        timeoutError: ClusterError.timeout("no agent-info result from the master within \(Int(wait)) s")) {
            case .result(let result): return result
            case .error(let text): throw ClusterError.wazuh(3037, text)
            }
        }
    }

    /// `syn_m_a_e` / `syn_m_a_err`: the master's answer to our push.
    func agentInfoAnswer(_ r: IncomingRequest) -> Reply {
        let value: AgentInfoReply
        if r.command == ClusterCommand.agentInfoResult {
            do { value = .result(try SyncResult(bytes: r.payload)) } catch { value = .error("unreadable result: \(error)") }
        } else {
            value = .error(r.text)
        }
        if !reply.deliver(value) {
            logger.subtagged("Agent-info sync").warning("An agent-info answer arrived when no push was waiting for it: ignored.")
        }
        return .ok("Thanks")
    }

    // MARK: agent-groups

    /// `syn_g_m_w` / `syn_g_m_w_c <string id>`: answered at once; applied in arrival order.
    func receiveGroups(_ r: IncomingRequest, on conn: ClusterConnection) -> Reply {
        let full = r.command == ClusterCommand.agentGroupsFull
        let bytes = Result { try conn.takeString(r.text) }
        let start = state.withLockedValue { s -> Bool in
            s.groupsQueue.append((bytes, full))
            defer { s.applyingGroups = true }
            return !s.applyingGroups
        }
        if start { context.tasks.spawn(boundTo: conn) { await self.applyQueuedGroups(conn) } }
        return .ok(r.text)
    }

    /// Applies queued agent-groups one at a time until none is left.
    private func applyQueuedGroups(_ conn: ClusterConnection) async {
        while let next = state.withLockedValue({ s -> (bytes: Result<[UInt8], Error>, full: Bool)? in
            guard !s.groupsQueue.isEmpty, !Task.isCancelled else {
                s.groupsQueue.removeAll()
                s.applyingGroups = false
                return nil
            }
            return s.groupsQueue.removeFirst()
        }) {
            await applyGroups(next.bytes, full: next.full, conn: conn)
        }
    }

    private func applyGroups(_ bytes: Result<[UInt8], Error>, full: Bool, conn: ClusterConnection) async {
        let log = logger.subtagged(full ? "Agent-groups recv full" : "Agent-groups recv")
        let started = ContinuousClock.now
        let payload: AgentGroupsPayload
        do {
            let data = try bytes.get()
            payload = try await context.threadPool.runIfActive { try AgentGroupsPayload(envelope: data) }
            let (entries, errors) = try payload.entries()
            let store = try open()
            try await store.applyGroups(entries, full: full)
            let spent = MasterAgents.seconds(since: started)
            if spent > config.intervals.workerTimeoutAgentGroups {
                log.warning("Applying agent-groups took \(String(format: "%.3f", spent)) s, over timeout_agent_groups.")
            }
            log.debug("Applied \(entries.count) agents in \(String(format: "%.3f", spent)) s.")
            if !errors.isEmpty { log.error("\(errors.count) entries could not be applied: \(errors.prefix(20).joined(separator: "; "))") }
            let result = SyncResult(updatedChunks: payload.chunks.count, errorMessages: errors, timeSpent: spent)
            _ = try await conn.requestOK(full ? ClusterCommand.agentGroupsFullResult : ClusterCommand.agentGroupsResult, result.bytes())
            if full {
                _ = try await store.recalculateGroupHashes()
                state.withLockedValue { $0.mismatches = 0 }
                log.info("Finished in \(String(format: "%.3f", MasterAgents.seconds(since: started))) s. Updated \(payload.chunks.count) chunks.")
            } else {
                try await checkHash(payload, store: store, conn: conn, log: log)
            }
        } catch {
            log.error("Error applying agent-groups: \(error)")
            _ = try? await conn.request(full ? ClusterCommand.agentGroupsFullError : ClusterCommand.agentGroupsError, "\(error)")
        }
    }

    /// Compares the master's global hash with ours; after `agent_groups_mismatch_limit`
    /// mismatches in a row, asks for a full sync.
    private func checkHash(_ payload: AgentGroupsPayload, store: AgentStore, conn: ClusterConnection, log: Logger) async throws {
        guard let master = try payload.masterHash() else { return }
        let local = try await store.globalGroupHash()
        let limit = config.intervals.workerAgentGroupsMismatchLimit
        let ask = state.withLockedValue { s -> Bool in
            if local == master {
                s.mismatches = 0
                return false
            }
            s.mismatches += 1
            guard s.mismatches >= limit else { return false }
            s.mismatches = 0
            return true
        }
        if local != master {
            log.debug("Group hash mismatch: master \(master ?? "null"), ours \(local ?? "null").")
        }
        if ask {
            log.info("The agent-groups checksum differed from the master's \(limit) times in a row: asking for a full sync.")
            _ = try await conn.requestOK(ClusterCommand.agentGroupsFullRequest)
        }
    }
}
