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

    /// Records the master connected to; a different one than last time gets every row again
    /// (after a failover the new leader's store may lack what the old one had).
    func noteMaster(_ identity: String) async throws -> Int { try await store.open().noteMaster(identity) }

    /// What one push did, for logs and for `cl-worker sync agent-info --once`.
    struct PushReport: Sendable {
        var granted = true
        var agents = 0
        var removed = 0
        var chunks = 0
        var result: SyncResult? = nil
        /// More rows were pending than this push carried.
        var partial = false

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
    /// 13,000 agents of 630 bytes, a 9 MB envelope. More pending rows go in the pushes that
    /// follow, one after another, so neither side ever holds a whole backlog: the master holds
    /// each worker's push whole until it is applied, and applies one at a time.
    static let maxPushRowBytes = 8 << 20

    /// Pushes everything pending, in pushes of at most `maxPushRowBytes` of rows, each one asked
    /// for, sent and confirmed before the next. Stops early when the master refuses the first
    /// push (it is busy with our previous one); a later refusal is retried for a few seconds.
    func push(_ conn: ClusterConnection) async throws -> PushReport {
        var total = PushReport()
        var first = true
        var refusals = 0
        while true {
            let one = try await pushOnce(conn)
            if !one.granted {
                if first { return one }
                // The master frees the slot just before it answers; a request that overtook that
                // is refused once. Ask again shortly.
                refusals += 1
                if refusals > 50 { return total }
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            first = false
            refusals = 0
            total.agents += one.agents
            total.removed += one.removed
            total.chunks += one.chunks
            if let r = one.result {
                var sum = total.result ?? SyncResult(updatedChunks: 0, errorMessages: [], timeSpent: 0)
                sum.updatedChunks += r.updatedChunks
                sum.errorMessages += r.errorMessages
                sum.timeSpent += r.timeSpent
                total.result = sum
            }
            guard one.partial else { return total }
        }
    }

    /// One push: permission, the pending rows (up to `maxPushRowBytes`) as a string, `syn_a_w_m`,
    /// then the master's result; only then are the rows marked synced.
    private func pushOnce(_ conn: ClusterConnection) async throws -> PushReport {
        let log = logger.subtagged("Agent-info sync")
        var report = PushReport()
        let permission = try await conn.requestOK(ClusterCommand.agentInfoPermission)
        guard permission.text == "True" else {
            report.granted = false
            return report
        }
        let started = ContinuousClock.now
        log.info("Starting.")
        let store = try open()
        let pending = try await store.pendingAgentInfo(maxRowBytes: Self.maxPushRowBytes)
        report.partial = pending.isPartial
        report.agents = pending.rows.count
        report.removed = pending.removed.count
        if pending.isEmpty {
            log.info("Finished in \(String(format: "%.3f", MasterAgents.seconds(since: started))) s. Updated 0 chunks.")
            return report
        }
        let envelope = try await context.threadPool.runIfActive {
            let chunks = try AgentInfoChunks(rows: pending.rows, removed: pending.removed)
            return (chunks.chunks.count, chunks.envelope())
        }
        report.chunks = envelope.0
        log.debug("Sending \(pending.rows.count) agents and \(pending.removed.count) removals in \(envelope.0) chunks.")
        let id = try await conn.sendString(envelope.1)
        reply.arm()
        defer { reply.disarm() }
        let answer = try await conn.requestOK(ClusterCommand.agentInfoStart, id)
        guard answer.text == id else {
            throw ClusterError.wazuh(3016, "the master answered syn_a_w_m with '\(answer.text.prefix(60))'")
        }
        let wait = config.intervals.masterTimeoutAgentInfo + config.intervals.timeoutClusterRequest
        switch try await reply.wait(timeout: wait, on: conn.eventLoop, timeoutError: ClusterError.timeout("no agent-info result from the master within \(Int(wait)) s")) {
        case .result(let result):
            try await store.markAgentInfoPushed(pending)
            report.result = result
            log.info("Finished in \(String(format: "%.3f", MasterAgents.seconds(since: started))) s. Updated \(result.updatedChunks) chunks.")
            if !result.errorMessages.isEmpty {
                log.error("The master reported \(result.errorMessages.count) errors: \(result.errorMessages.prefix(20).joined(separator: "; "))")
            }
            let ahead = result.errorMessages.filter { $0.contains(AgentStore.aheadOfClockMarker) }.count
            if ahead > 0 {
                log.warning("The master refused \(ahead) agents whose last_keepalive is ahead of its clock by more than its limits.max_keepalive_skew: this node's clock or the master's is wrong. They are not sent again; each lands with its next update once the clocks agree.")
            }
        case .error(let text):
            throw ClusterError.wazuh(3037, text)
        }
        return report
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
            let resultCommand = full ? ClusterCommand.agentGroupsFullResult : ClusterCommand.agentGroupsResult
            let answer = try await conn.request(resultCommand, result.bytes())
            if answer.command == ClusterCommand.err {
                // The master's answer to our result is only its bookkeeping: the groups are
                // applied either way. The reference's worker never looks at it, and a reference
                // master fails on a full sync answered within the millisecond its send returned
                // (`time data 'n/a' does not match format`): not a failure of ours.
                log.debug("The master answered \(resultCommand) with an error (the groups are applied): \(WireError.decode(answer.payload))")
            }
            if full {
                let fixed = try await store.recalculateGroupHashes()
                state.withLockedValue { $0.mismatches = 0 }
                log.debug("Recalculated the group hashes: \(fixed) corrected.")
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
