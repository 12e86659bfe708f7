import Foundation
import GRDB
import GRDBSQLite

/// A node's agents: one SQLite database in WAL mode at `<node.root>/var/db/agents.db`, shared by
/// the running daemon and the CLI (`agents upsert|remove|list|set-groups`), which write to the
/// same file; SQLite's locking and a busy timeout serialise the writers.
///
/// Agent-info at least once: every write transaction takes the next value of a change counter
/// (`meta.change_seq`) and stamps the rows it makes `syncreq` with it. A push reads, in one
/// snapshot, the counter and every `syncreq` row and pending removal; once the master has
/// confirmed, `markAgentInfoPushed` clears exactly the rows stamped at or below the snapshot's
/// counter. A row changed while the push was in flight carries a newer stamp and stays pending;
/// a push that never got its confirmation leaves everything pending, to be sent again.
public final class AgentStore: Sendable {
    public let path: String
    let pool: DatabasePool
    /// The listing statements kept prepared (`listingStatement`).
    private let listingShapes = ListingShapes()

    /// Where a node keeps its agents.
    public static func path(root: String) -> String { (root as NSString).appendingPathComponent("var/db/agents.db") }

    public convenience init(config: ClusterConfig) throws {
        try NodeRoot.check(config.root)
        try self.init(path: AgentStore.path(root: config.root))
    }

    /// Opens (creating when needed) and migrates the store.
    public init(path: String) throws {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        try FileIO.makeDirectories(dir, mode: 0o750)
        var c = Configuration()
        // The daemon and the CLI write the same file; a writer waits for the other's commit.
        c.busyMode = .timeout(30)
        c.label = "agents"
        // A confirmed push must survive a crash or a power loss: the worker will not send it again.
        c.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        // The daemon and a command (agents upsert from cron) may open a new store at once: both
        // would find no migration applied and run them. One migrates at a time, under a lock
        // file beside the store; the other then finds them applied.
        let lock = open(path + ".lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o640)
        if lock >= 0 { flock(lock, LOCK_EX) }
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        do {
            pool = try DatabasePool(path: path, configuration: c)
            try AgentStoreSchema.migrator.migrate(pool)
        } catch {
            throw AgentStore.storeError(error, path: path)
        }
    }

    static func storeError(_ e: Error, path: String) -> Error {
        if e is CancellationError { return e }
        if let c = e as? ClusterError { return c }
        if let d = e as? DatabaseError { return ClusterError.io("agent store \(path): \(d.message ?? d.description)") }
        return ClusterError.io("agent store \(path): \(e)")
    }

    func read<T: Sendable>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch { throw AgentStore.storeError(error, path: path) }
    }

    func write<T: Sendable>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch { throw AgentStore.storeError(error, path: path) }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw AgentStore.storeError(error, path: path) }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(body) } catch { throw AgentStore.storeError(error, path: path) }
    }

    // MARK: SQL

    static let infoNames = AgentRecord.fields.map(\.name)
    // Positional parameters of the upserts: ?1 id, ?2...?(n+1) the fields, then these.
    static let pLabels = infoNames.count + 2
    static let pSeq = infoNames.count + 3
    static let pNow = infoNames.count + 4
    static let pNode = infoNames.count + 5
    static let pKeepalive = infoNames.firstIndex(of: "last_keepalive")! + 2
    /// wazuh-db's column defaults, for a row created from a partial record.
    static let insertDefaults = ["connection_status": "'never_connected'", "group_config_status": "'not synced'",
                                 "disconnection_time": "0", "status_code": "0"]

    /// A row from the local CLI: given fields win, absent fields keep their value, the row is
    /// `syncreq` under this transaction's stamp; `node_name` defaults to this node.
    static let localUpsertSQL: String = upsertSQL(master: false, sizeGuard: true)
    /// A row from a worker's push: the same, except that the row belongs to the sending worker,
    /// and an older `last_keepalive` than the stored one changes nothing.
    static let masterApplySQL: String = upsertSQL(master: true, sizeGuard: true)
    /// The same two without the size guard, for rows the guard held back that were then
    /// measured exactly and fit (`upsertChecked`).
    static let localUpsertUnguardedSQL: String = upsertSQL(master: false, sizeGuard: false)
    static let masterApplyUnguardedSQL: String = upsertSQL(master: true, sizeGuard: false)

    /// Whether the master's keepalive rule lets a row with keepalive `k` replace the stored one
    /// (the keepalive part of `masterApplySQL`'s `WHERE`).
    static func keepaliveAdmits(_ k: Int64?, over stored: AgentRecord) -> Bool {
        guard let before = stored.lastKeepalive else { return true }
        guard let k else { return false }
        return k >= before
    }

    static func upsertSQL(master: Bool, sizeGuard: Bool) -> String {
        var values = ["?1"]
        var sets = [String]()
        // The size guard: an upper bound of the updated row's compact JSON (every key and
        // integer, text at six bytes a byte, labels at three times their stored JSON). A row
        // under it fits for sure; one over it changes nothing here and is measured exactly.
        var textLengths = [String]()
        for (i, name) in infoNames.enumerated() {
            let p = "?\(i + 2)"
            let merged: String
            if name == "node_name" {
                values.append(master ? "?\(pNode)" : "COALESCE(\(p), ?\(pNode))")
                merged = master ? "?\(pNode)" : "COALESCE(\(p), agent.node_name, ?\(pNode))"
                sets.append("node_name = \(merged)")
            } else {
                values.append(insertDefaults[name].map { "COALESCE(\(p), \($0))" } ?? p)
                merged = "COALESCE(\(p), agent.\(name))"
                sets.append("\(name) = \(merged)")
            }
            if AgentRecord.fields[i].kind == .text { textLengths.append("IFNULL(length(CAST(\(merged) AS BLOB)), 0)") }
        }
        let status = master ? "'synced'" : "'syncreq'"
        var sql = """
            INSERT INTO agent (id, \(infoNames.joined(separator: ", ")), labels, sync_status, change_seq, date_add)
            VALUES (\(values.joined(separator: ", ")), ?\(pLabels), \(status), ?\(pSeq), ?\(pNow))
            ON CONFLICT(id) DO UPDATE SET \(sets.joined(separator: ", ")),
              labels = COALESCE(?\(pLabels), labels), sync_status = \(status), change_seq = ?\(pSeq)
            """
        var conditions = [String]()
        if master {
            conditions.append("""
                (agent.last_keepalive IS NULL OR (?\(pKeepalive) IS NOT NULL AND ?\(pKeepalive) >= agent.last_keepalive))
                """)
        }
        if sizeGuard {
            let bound = 32 + AgentRecord.fields.count * 44
            conditions.append("""
                (\(bound) + 6 * (\(textLengths.joined(separator: " + ")))
                  + 3 * IFNULL(length(CAST(COALESCE(?\(pLabels), agent.labels) AS BLOB)), 0)) <= \(AgentRecord.maxWireBytes)
                """)
        }
        if !conditions.isEmpty { sql += "\nWHERE " + conditions.joined(separator: " AND ") }
        return sql
    }

    /// What became of one row of an upsert.
    enum UpsertOutcome: Equatable {
        case applied
        /// Held back by the master's keepalive rule.
        case stale
        /// The row it would leave is this many bytes of JSON, past the limit: nothing changed.
        case oversize(Int)
    }

    /// Upserts one record with the guarded statement; a row the size guard held back (or the
    /// keepalive rule, on the master) is looked up, measured exactly and written unguarded if it
    /// fits. A new row is measured before it is inserted (the guard only sees updates).
    static func upsertChecked(_ db: Database, _ r: AgentRecord, master: Bool, seq: Int64, now: Int64, node: String) throws -> UpsertOutcome {
        if r.wireBytesBound + 6 * node.utf8.count > AgentRecord.maxWireBytes,
           let size = r.merged(over: nil, nodeName: node, forceNode: master).oversize() {
            // Too large even alone (what a new row would be).
            return .oversize(size)
        }
        let guarded = try db.cachedStatement(sql: master ? masterApplySQL : localUpsertSQL)
        if try run(guarded, db, r, seq: seq, now: now, node: node) > 0 { return .applied }
        let lookup = try db.cachedStatement(sql: "SELECT \(recordColumns) FROM agent WHERE id = ?")
        guard let row = try Row.fetchOne(lookup, arguments: [r.id]) else {
            throw ClusterError.internalError("agent \(AgentRecord.formatID(r.id)) was neither inserted nor found")
        }
        let stored = record(row)
        if master, !keepaliveAdmits(r.lastKeepalive, over: stored) { return .stale }
        if let size = r.merged(over: stored, nodeName: node, forceNode: master).oversize() { return .oversize(size) }
        let unguarded = try db.cachedStatement(sql: master ? masterApplyUnguardedSQL : localUpsertUnguardedSQL)
        return try run(unguarded, db, r, seq: seq, now: now, node: node) > 0 ? .applied : .stale
    }

    /// Binds a record's upsert arguments straight through SQLite's C interface and runs the
    /// statement; returns the number of rows it changed. GRDB's argument arrays cost about a
    /// third of a master's apply (a push is tens of thousands of rows).
    static func run(_ statement: Statement, _ db: Database, _ r: AgentRecord, seq: Int64, now: Int64, node: String) throws -> Int32 {
        let h = statement.sqliteStatement
        sqlite3_reset(h)
        func text(_ index: Int, _ s: String) {
            var s = s
            s.withUTF8 { b in
                if let base = b.baseAddress {
                    _ = sqlite3_bind_text(h, Int32(index), UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self),
                                          Int32(b.count), AgentStore.transient)
                } else {
                    _ = sqlite3_bind_text(h, Int32(index), "", 0, AgentStore.transient)
                }
            }
        }
        sqlite3_bind_int64(h, 1, Int64(r.id))
        for (i, v) in r.values.enumerated() {
            switch v {
            case .text(let s)?: text(i + 2, s)
            case .integer(let n)?: sqlite3_bind_int64(h, Int32(i + 2), n)
            case nil: sqlite3_bind_null(h, Int32(i + 2))
            }
        }
        if let labels = r.labels { text(pLabels, AgentLabel.storedJSON(labels)) } else { sqlite3_bind_null(h, Int32(pLabels)) }
        sqlite3_bind_int64(h, Int32(pSeq), seq)
        sqlite3_bind_int64(h, Int32(pNow), now)
        text(pNode, node)
        let rc = sqlite3_step(h)
        sqlite3_reset(h)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        return sqlite3_changes(db.sqliteConnection)
    }

    /// SQLite copies bound text at once (SQLITE_TRANSIENT).
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    static func nextSeq(_ db: Database) throws -> Int64 {
        guard let v = try Int64.fetchOne(db, sql: "UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value") else {
            throw ClusterError.internalError("the agent store has no change counter")
        }
        return v
    }

    static var now: Int64 { Int64(WallClock.seconds) }

    static let recordColumns = "id, " + infoNames.joined(separator: ", ") + ", labels"

    /// A record from a row selected with `recordColumns` first.
    static func record(_ row: Row) -> AgentRecord {
        var r = AgentRecord(id: Int(row[0] as Int64))
        for (i, f) in AgentRecord.fields.enumerated() {
            let dbv: DatabaseValue = row[i + 1]
            switch dbv.storage {
            case .null: break
            case .int64(let v): r.values[i] = f.kind == .integer ? .integer(v) : .text(String(v))
            case .double(let d): r.values[i] = f.kind == .integer ? .integer(Int64(d)) : .text(String(d))
            case .string(let s): r.values[i] = f.kind == .text ? .text(s) : Int64(s).map { .integer($0) }
            case .blob(let d): r.values[i] = .text(String(decoding: d, as: UTF8.self))
            }
        }
        if let l = row[infoNames.count + 1] as String? { r.labels = AgentLabel.fromStored(l) }
        return r
    }

    // MARK: the local CLI (worker): upsert and remove

    /// Upserts `records` in one transaction; returns the errors by index in `records` (those rows
    /// are left out, the others land). A new agent needs a name; `node_name` defaults to `node`.
    public func upsert(_ records: [AgentRecord], defaultNode node: String) throws -> [Int: String] {
        try write { db in
            let seq = try AgentStore.nextSeq(db)
            let now = AgentStore.now
            let named = try db.cachedStatement(sql: "SELECT name IS NOT NULL FROM agent WHERE id = ?")
            let revive = try db.cachedStatement(sql: "DELETE FROM agent_removed WHERE id = ?")
            var errors = [Int: String]()
            for (i, r) in records.enumerated() {
                if r.name == nil, try Bool.fetchOne(named, arguments: [r.id]) != true {
                    errors[i] = "agent \(AgentRecord.formatID(r.id)) is new here and needs a name"
                    continue
                }
                if case .oversize(let size) = try AgentStore.upsertChecked(db, r, master: false, seq: seq, now: now, node: node) {
                    errors[i] = AgentRecord.oversizeMessage(r.id, size: size)
                    continue
                }
                try revive.execute(arguments: [r.id])
            }
            return errors
        }
    }

    /// Removes agents and queues their removal for the master; unknown ids are errors.
    public func remove(ids: [Int]) throws -> [Int: String] {
        try write { db in
            let seq = try AgentStore.nextSeq(db)
            let delete = try db.cachedStatement(sql: "DELETE FROM agent WHERE id = ?")
            let tombstone = try db.cachedStatement(sql: "INSERT OR REPLACE INTO agent_removed (id, change_seq) VALUES (?, ?)")
            var errors = [Int: String]()
            for (i, id) in ids.enumerated() {
                try delete.execute(arguments: [id])
                if db.changesCount == 0 {
                    errors[i] = "agent \(AgentRecord.formatID(id)) does not exist"
                    continue
                }
                try tombstone.execute(arguments: [id, seq])
            }
            return errors
        }
    }

    // MARK: agent-info, worker side

    /// What a push sends: the rows and removals pending in one snapshot, and the snapshot's stamp.
    /// A push bounded in bytes takes the pending rows in id order up to the bound; `throughID`
    /// is then the last id it holds, and more rows wait past it.
    public struct PendingAgentInfo: Sendable {
        public var rows: [[UInt8]]
        public var removed: [Int]
        public var seq: Int64
        /// Set when rows were left out: the push holds every pending row up to this id, none past it.
        public var throughID: Int? = nil
        public var isEmpty: Bool { rows.isEmpty && removed.isEmpty }
        /// Whether more rows were pending than this push holds.
        public var isPartial: Bool { throughID != nil }
    }

    /// The pending rows (in id order, at most about `maxRowBytes` of them: the row that reaches
    /// the bound is the last) and every pending removal, in one snapshot.
    static func pending(_ db: Database, maxRowBytes: Int = .max) throws -> PendingAgentInfo {
        let seq = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'change_seq'") ?? 0
        var rows = [[UInt8]]()
        var bytes = 0
        var through: Int? = nil
        var lastID = 0
        let statement = try db.makeStatement(sql: "SELECT \(recordColumns) FROM agent WHERE sync_status = 'syncreq' ORDER BY id")
        let h = statement.sqliteStatement
        defer { sqlite3_reset(h) }
        while true {
            let rc = sqlite3_step(h)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            if bytes >= maxRowBytes {
                // Another row is pending: this push ends at the previous one.
                through = lastID
                break
            }
            lastID = Int(sqlite3_column_int64(h, 0))
            let row = wireRow(h)
            bytes += row.count
            rows.append(row)
        }
        let removed = try Int64.fetchAll(db, sql: "SELECT id FROM agent_removed ORDER BY id").map { Int($0) }
        return PendingAgentInfo(rows: rows, removed: removed, seq: seq, throughID: through)
    }

    /// A row selected with `recordColumns`, written as `AgentRecord.wireBytes()` writes it, straight
    /// from SQLite's buffers (a push reads tens of thousands of rows).
    static func wireRow(_ h: OpaquePointer) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(768)
        let id = sqlite3_column_int64(h, 0)
        out.append(contentsOf: "{\"id\":".utf8)
        out.append(contentsOf: String(id).utf8)
        for (i, f) in AgentRecord.fields.enumerated() {
            let col = Int32(i + 1)
            if sqlite3_column_type(h, col) == SQLITE_NULL { continue }
            out.append(contentsOf: AgentRecord.wireKeys[i])
            if f.kind == .integer {
                out.append(contentsOf: String(sqlite3_column_int64(h, col)).utf8)
            } else {
                let p = sqlite3_column_text(h, col)
                let text = UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(h, col)))
                if JSONScanner.isValidUTF8(text) {
                    JSONEscaping.appendCompact(text, into: &out)
                } else {
                    JSONEscaping.appendCompact(String(decoding: text, as: UTF8.self), into: &out)
                }
            }
        }
        let labelsColumn = Int32(infoNames.count + 1)
        if sqlite3_column_type(h, labelsColumn) != SQLITE_NULL, let p = sqlite3_column_text(h, labelsColumn) {
            let text = String(decoding: UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(h, labelsColumn))), as: UTF8.self)
            AgentRecord.writeWireLabels(AgentLabel.fromStored(text), id: Int(id), into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    public func pendingAgentInfo(maxRowBytes: Int = .max) async throws -> PendingAgentInfo {
        try await read { db in try AgentStore.pending(db, maxRowBytes: maxRowBytes) }
    }
    public func pendingAgentInfoNow(maxRowBytes: Int = .max) throws -> PendingAgentInfo {
        try read { db in try AgentStore.pending(db, maxRowBytes: maxRowBytes) }
    }

    /// Clears what a push read at stamp `seq` held: its removals, and its rows (every pending row
    /// stamped at or below `seq`, up to `throughID` when the push was bounded).
    static func markPushed(_ db: Database, _ seq: Int64, throughID: Int? = nil) throws {
        if let throughID {
            try db.execute(sql: "UPDATE agent SET sync_status = 'synced' WHERE sync_status = 'syncreq' AND change_seq <= ? AND id <= ?",
                           arguments: [seq, throughID])
        } else {
            try db.execute(sql: "UPDATE agent SET sync_status = 'synced' WHERE sync_status = 'syncreq' AND change_seq <= ?", arguments: [seq])
        }
        try db.execute(sql: "DELETE FROM agent_removed WHERE change_seq <= ?", arguments: [seq])
    }

    /// The master confirmed `push`.
    public func markAgentInfoPushed(_ push: PendingAgentInfo) async throws {
        try await write { db in try AgentStore.markPushed(db, push.seq, throughID: push.throughID) }
    }

    static func hasPending(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM agent WHERE sync_status = 'syncreq') OR EXISTS(SELECT 1 FROM agent_removed)") ?? false
    }

    /// Cheap (a partial index): whether anything waits for a push.
    public func hasPendingAgentInfo() async throws -> Bool { try await read(AgentStore.hasPending) }
    public func hasPendingAgentInfoNow() throws -> Bool { try read(AgentStore.hasPending) }

    // MARK: agent-info, master side

    public struct AgentInfoOutcome: Sendable, Equatable {
        public var updatedChunks = 0
        /// Rows that did not check, as "chunk i: why"; the other rows were applied.
        public var errors: [String] = []
        public var applied = 0
        /// Rows older (by last_keepalive) than what the master holds, left alone.
        public var stale = 0
        /// Rows of agents deleted on the master that do not report a newer keepalive than they
        /// had when they were deleted: skipped, not an error.
        public var deleted = 0
        public var removed = 0
        /// Rows refused because their `last_keepalive` is further ahead of the master's clock
        /// than the allowed skew (reported in `errors` too).
        public var future = 0
        /// Rows refused because the row they would leave passes the size limit (in `errors` too).
        public var oversize = 0
        public init() {}
    }

    /// The default of `limits.max_keepalive_skew`: how far ahead of the master's clock a row's
    /// `last_keepalive` may be.
    public static let defaultKeepaliveSkew: Double = 300

    /// Part of the message of a row refused for a keepalive too far ahead: the worker counts
    /// these in the master's `error_messages` to say that a clock is wrong.
    public static let aheadOfClockMarker = "ahead of the master's clock"

    /// Applies one worker's push in one transaction: removals of agents the worker owns, then
    /// every row, owned by `node`, unless the master's copy has a newer `last_keepalive`, or the
    /// agent was deleted here and reports no newer keepalive than it had then. A row whose
    /// `last_keepalive` is more than `keepaliveSkew` seconds ahead of the master's clock is refused
    /// (a worker could otherwise take an agent from its owner for good), and so is a row that
    /// would leave the agent larger than one chunk; both are reported in `errors`. Past
    /// `timeLimit` seconds the transaction is abandoned (nothing applied) with a timeout error.
    public func applyAgentInfo(_ push: AgentInfoChunks, from node: String, timeLimit: Double,
                               keepaliveSkew: Double = AgentStore.defaultKeepaliveSkew) async throws -> AgentInfoOutcome {
        try await applyAgentInfo(AgentInfoRows(push), from: node, timeLimit: timeLimit, keepaliveSkew: keepaliveSkew)
    }

    /// The same for a push already read (`AgentInfoRows`): only the writes hold the writer.
    public func applyAgentInfo(_ push: AgentInfoRows, from node: String, timeLimit: Double,
                               keepaliveSkew: Double = AgentStore.defaultKeepaliveSkew) async throws -> AgentInfoOutcome {
        try await write { db in try AgentStore.apply(db, push, node: node, timeLimit: timeLimit, keepaliveSkew: keepaliveSkew) }
    }

    static func apply(_ db: Database, _ push: AgentInfoChunks, node: String, timeLimit: Double,
                      keepaliveSkew: Double = AgentStore.defaultKeepaliveSkew) throws -> AgentInfoOutcome {
        try apply(db, AgentInfoRows(push), node: node, timeLimit: timeLimit, keepaliveSkew: keepaliveSkew)
    }

    static func apply(_ db: Database, _ push: AgentInfoRows, node: String, timeLimit: Double,
                      keepaliveSkew: Double = AgentStore.defaultKeepaliveSkew) throws -> AgentInfoOutcome {
        let started = ContinuousClock.now
        let limit = Duration.milliseconds(Int64(timeLimit * 1000))
        let seq = try nextSeq(db)
        let now = AgentStore.now
        var out = AgentInfoOutcome()
        let owned = try db.cachedStatement(sql: "SELECT groups, last_keepalive FROM agent WHERE id = ? AND node_name = ?")
        let remember = try db.cachedStatement(sql: "INSERT OR REPLACE INTO agent_deleted (id, last_keepalive) VALUES (?, ?)")
        let delete = try db.cachedStatement(sql: "DELETE FROM agent WHERE id = ?")
        let tombstone = try db.cachedStatement(sql: "INSERT OR IGNORE INTO group_removed (id) VALUES (?)")
        for id in push.removed {
            // Only the worker that owns an agent removes it: one that moved keeps its new node.
            guard let row = try Row.fetchOne(owned, arguments: [id, node]) else { continue }
            try delete.execute(arguments: [id])
            if !row.hasNull(atIndex: 0) { try tombstone.execute(arguments: [id]) }
            try remember.execute(arguments: [id, row[1] as Int64?])
            out.removed += 1
        }
        let latestKeepalive = now + Int64(keepaliveSkew)
        // Usually empty or small: one read instead of a lookup per row.
        var deleted = [Int: Int64?]()
        for row in try Row.fetchAll(db, sql: "SELECT id, last_keepalive FROM agent_deleted") {
            deleted[Int(row[0] as Int64)] = row[1] as Int64?
        }
        let forget = try db.cachedStatement(sql: "DELETE FROM agent_deleted WHERE id = ?")
        var seen = 0
        for (ci, chunk) in push.chunks.enumerated() {
            let rows: [Result<AgentRecord, ClusterError>]
            do { rows = try chunk.get() } catch {
                out.errors.append("chunk \(ci): \(error.message)")
                continue
            }
            for row in rows {
                seen += 1
                if seen & 255 == 0, ContinuousClock.now - started > limit {
                    throw ClusterError.timeout("Timeout while processing agent-info chunks.", code: 3037)
                }
                let r: AgentRecord
                switch row {
                case .success(let record): r = record
                case .failure(let e):
                    out.errors.append("chunk \(ci): \(e.message)")
                    continue
                }
                if let k = r.lastKeepalive, k > latestKeepalive {
                    out.future += 1
                    out.errors.append("chunk \(ci): agent \(AgentRecord.formatID(r.id)): last_keepalive \(k) is \(k - now) s \(AgentStore.aheadOfClockMarker) (at most \(Int64(keepaliveSkew)) s allowed); refused")
                    continue
                }
                if !deleted.isEmpty, let before = deleted[r.id] {
                    // Deleted here: only a keepalive newer than its last one brings it back.
                    guard let k = r.lastKeepalive, before.map({ k > $0 }) ?? true else {
                        out.deleted += 1
                        continue
                    }
                    try forget.execute(arguments: [r.id])
                    deleted[r.id] = nil
                }
                switch try upsertChecked(db, r, master: true, seq: seq, now: now, node: node) {
                case .applied: out.applied += 1
                case .stale: out.stale += 1
                case .oversize(let size):
                    out.oversize += 1
                    out.errors.append("chunk \(ci): \(AgentRecord.oversizeMessage(r.id, size: size))")
                }
            }
            out.updatedChunks += 1
        }
        return out
    }

    // MARK: agent-groups, master side

    /// Assigns groups (override: the list replaces the agent's groups; empty clears them) and
    /// marks the agents for the next delta. Unknown agents are errors, by index.
    public func setGroups(_ entries: [AgentGroupsEntry]) throws -> [Int: String] {
        try write { db in
            _ = try AgentStore.nextSeq(db)
            let update = try db.cachedStatement(sql: "UPDATE agent SET groups = ?, group_hash = ?, group_sync_status = 'syncreq' WHERE id = ?")
            var errors = [Int: String]()
            for (i, e) in entries.enumerated() {
                try update.execute(arguments: [AgentGroups.csv(e.groups), GroupHash.agent(e.groups), e.id])
                if db.changesCount == 0 { errors[i] = "agent \(AgentRecord.formatID(e.id)) does not exist" }
            }
            return errors
        }
    }

    /// The periodic delta (`sync-agent-groups-get` with `set_synced` and `get_global_hash`): every
    /// agent marked since the last delta, and removed agents that had groups (as an empty list),
    /// in id order; they are marked synced in the same transaction. Then the global hash.
    public func takeGroupDeltas() async throws -> (entries: [AgentGroupsEntry], hash: String?) {
        try await write(AgentStore.takeDeltas)
    }

    static func takeDeltas(_ db: Database) throws -> (entries: [AgentGroupsEntry], hash: String?) {
        var byID = [Int: [String]]()
        let rows = try Row.fetchAll(db, sql: "SELECT id, groups FROM agent WHERE group_sync_status = 'syncreq'")
        for row in rows { byID[Int(row[0] as Int64)] = AgentGroups.split(row[1]) }
        try db.execute(sql: "UPDATE agent SET group_sync_status = 'synced' WHERE group_sync_status = 'syncreq'")
        for id in try Int64.fetchAll(db, sql: "SELECT id FROM group_removed") where byID[Int(id)] == nil {
            byID[Int(id)] = []
        }
        try db.execute(sql: "DELETE FROM group_removed")
        let entries = byID.keys.sorted().map { AgentGroupsEntry(id: $0, groups: byID[$0]!) }
        return (entries, try AgentStore.globalHash(db))
    }

    /// Every agent's groups, for a full sync (`condition: all`).
    public func allGroups() async throws -> [AgentGroupsEntry] {
        try await read { db in try AgentStore.allGroups(db) }
    }

    static func allGroups(_ db: Database) throws -> [AgentGroupsEntry] {
        try Row.fetchAll(db, sql: "SELECT id, groups FROM agent WHERE id > 0 ORDER BY id").map {
            AgentGroupsEntry(id: Int($0[0] as Int64), groups: AgentGroups.split($0[1]))
        }
    }

    // MARK: agent-groups, worker side

    /// Applies the master's groups (override). A worker also keeps the groups of agents that are
    /// not its own, as a row with only id and groups, because the global hash covers every agent.
    /// A full sync also clears the groups of every agent it does not list, so the worker ends up
    /// with exactly the master's groups.
    public func applyGroups(_ entries: [AgentGroupsEntry], full: Bool) async throws {
        try await write { db in try AgentStore.applyGroups(db, entries, full: full) }
    }

    static func applyGroups(_ db: Database, _ entries: [AgentGroupsEntry], full: Bool) throws {
        let now = AgentStore.now
        let set = try db.cachedStatement(sql: """
            INSERT INTO agent (id, groups, group_hash, group_sync_status, sync_status, date_add)
            VALUES (?, ?, ?, 'synced', 'synced', ?)
            ON CONFLICT(id) DO UPDATE SET groups = excluded.groups, group_hash = excluded.group_hash, group_sync_status = 'synced'
            """)
        let clear = try db.cachedStatement(sql: "UPDATE agent SET groups = NULL, group_hash = NULL, group_sync_status = 'synced' WHERE id = ?")
        for e in entries {
            if e.groups.isEmpty {
                try clear.execute(arguments: [e.id])
            } else {
                try set.execute(arguments: [e.id, AgentGroups.csv(e.groups), GroupHash.agent(e.groups), now])
            }
        }
        if full {
            let listed = Set(entries.map(\.id))
            for id in try Int64.fetchAll(db, sql: "SELECT id FROM agent WHERE groups IS NOT NULL OR group_hash IS NOT NULL")
            where !listed.contains(Int(id)) {
                try clear.execute(arguments: [id])
            }
        }
        // Rows that only held another node's groups go with them.
        try db.execute(sql: "DELETE FROM agent WHERE name IS NULL AND groups IS NULL")
    }

    static func globalHash(_ db: Database) throws -> String? {
        GroupHash.global(try String.fetchAll(db, sql: "SELECT group_hash FROM agent WHERE id > 0 AND group_hash IS NOT NULL ORDER BY id"))
    }

    /// The global group hash, from the stored per-agent hashes (as wazuh-db computes it).
    public func globalGroupHash() async throws -> String? { try await read(AgentStore.globalHash) }
    public func globalGroupHashNow() throws -> String? { try read(AgentStore.globalHash) }

    /// Recomputes every per-agent hash from the group list (`recalculate-agent-group-hashes`);
    /// returns how many were wrong.
    @discardableResult
    public func recalculateGroupHashes() async throws -> Int {
        try await write(AgentStore.recalculate)
    }

    static func recalculate(_ db: Database) throws -> Int {
        var fixed = 0
        let update = try db.cachedStatement(sql: "UPDATE agent SET group_hash = ? WHERE id = ?")
        for row in try Row.fetchAll(db, sql: "SELECT id, groups, group_hash FROM agent") {
            let expected = GroupHash.agent(csv: (row[1] as String?) ?? "")
            if expected != row[2] as String? {
                try update.execute(arguments: [expected, row[0] as Int64])
                fixed += 1
            }
        }
        return fixed
    }

    // MARK: reading

    /// `{"items": [...], "totalItems": n}`: the agents that pass the filters (n counts them all),
    /// sorted, paged, with only the selected fields.
    public func list(_ q: AgentQuery) throws -> JSON {
        try q.validate()
        return try read { db in
            let (clause, args) = q.whereClause()
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM agent" + clause, arguments: StatementArguments(args)) ?? 0
            let sql = AgentStore.listSQL(clause, q)
            var items = [JSON]()
            let cursor = try Row.fetchCursor(db, sql: sql, arguments: AgentStore.listArguments(args, q))
            while let row = try cursor.next() { items.append(AgentStore.listJSON(row, select: q.select)) }
            return ["items": .array(items), "totalItems": .int(Int64(total))]
        }
    }

    /// The same listing as `list`, written straight to JSON bytes (`AgentListBytes`): the items
    /// are byte for byte `JSONWriter.compact` of `list`'s, without a `JSON` value per row.
    public func listBytes(_ q: AgentQuery) throws -> AgentListBytes {
        try q.validate()
        let columns = AgentListBytes.columns(select: q.select)
        return try read { db in
            let (clause, args) = q.whereClause()
            let count = try listingStatement(db, "SELECT COUNT(*) FROM agent" + clause)
            var page = AgentListBytes(total: try Int.fetchOne(count, arguments: StatementArguments(args)) ?? 0)
            // About what a listed agent takes, for the rows the page will hold.
            page.items.reserveCapacity(min(q.limit ?? Int.max, max(0, page.total - q.offset), 10_000) * 320)
            let statement = try listingStatement(db, AgentStore.listSQL(clause, q))
            let cursor = try Row.fetchCursor(statement, arguments: AgentStore.listArguments(args, q))
            let h = statement.sqliteStatement
            while let row = try cursor.next() {
                if !page.append(row: h, columns: columns) {
                    page.append(item: JSONWriter.compact.bytes(AgentStore.listJSON(row, select: q.select)), id: Int(row[0] as Int64))
                }
            }
            return page
        }
    }

    /// The listing's SQL for a WHERE clause: the sort in it, the page bound (`listArguments`).
    static func listSQL(_ clause: String, _ q: AgentQuery) -> String {
        "SELECT \(AgentStore.recordColumns), groups, group_hash, group_sync_status, sync_status, date_add FROM agent"
            + clause + q.orderClause() + " LIMIT ? OFFSET ?"
    }

    static func listArguments(_ args: [String], _ q: AgentQuery) -> StatementArguments {
        StatementArguments(args) + [q.limit ?? -1, q.offset]
    }

    /// How many listing statements (shapes of filters and sort) each connection keeps prepared:
    /// the first ones seen, so a caller that varies its filters cannot grow the cache without bound.
    static let maxPreparedListings = 32

    /// A listing statement: prepared once per connection for the first shapes seen, else each time.
    func listingStatement(_ db: Database, _ sql: String) throws -> Statement {
        let keep = listingShapes.admit(sql, max: AgentStore.maxPreparedListings)
        return keep ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    static func listJSON(_ row: Row, select: [String]?) -> JSON {
        let r = record(row)
        var o = JSONObject(minimumCapacity: AgentQuery.listFields.count)
        o["id"] = .string(AgentRecord.formatID(r.id))
        for (i, f) in AgentRecord.fields.enumerated() {
            if let v = r.values[i] { o[f.name] = v.json }
        }
        if let labels = r.labels, !labels.isEmpty {
            o["labels"] = .array(labels.map { ["key": .string($0.key), "value": .string($0.value)] })
        }
        let n = infoNames.count + 2
        let groups = AgentGroups.split(row[n])
        if !groups.isEmpty { o["group"] = .array(groups.map { .string($0) }) }
        if let h = row[n + 1] as String? { o["group_hash"] = .string(h) }
        o["group_sync_status"] = .string(row[n + 2] as String)
        o["sync_status"] = .string(row[n + 3] as String)
        o["date_add"] = .int(row[n + 4] as Int64)
        guard let select else { return .object(o) }
        var picked = JSONObject(minimumCapacity: select.count + 1)
        picked["id"] = o["id"]
        for k in select where k != "id" { if let v = o[k] { picked[k] = v } }
        return .object(picked)
    }

    /// One agent's record, or nil.
    public func agent(_ id: Int) throws -> AgentRecord? {
        try read { db in try Row.fetchOne(db, sql: "SELECT \(AgentStore.recordColumns) FROM agent WHERE id = ?", arguments: [id]).map(AgentStore.record) }
    }

    /// One agent's groups in priority order (nil when the store has no such agent).
    public func groups(of id: Int) throws -> [String]? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT groups FROM agent WHERE id = ?", arguments: [id]).map { AgentGroups.split($0[0]) }
        }
    }

    public func count() throws -> Int { try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM agent") ?? 0 } }

    static func activeCounts(_ db: Database) throws -> [String: Int] {
        var out = [String: Int]()
        for row in try Row.fetchAll(db, sql: """
            SELECT node_name, COUNT(*) FROM agent
            WHERE connection_status = 'active' AND id > 0 AND node_name IS NOT NULL GROUP BY node_name
            """) {
            out[row[0] as String] = Int(row[1] as Int64)
        }
        return out
    }

    /// Active agents per node (the reference's `n_active_agents`, without agent 000).
    public func activeAgentCounts() async throws -> [String: Int] { try await read(AgentStore.activeCounts) }
    public func activeAgentCountsNow() throws -> [String: Int] { try read(AgentStore.activeCounts) }

    /// The change counter: it moves with every write transaction that changes agents, from any
    /// process, so a cache can tell when to refresh.
    public func changeCounter() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'change_seq'") ?? 0 }
    }
}

/// The SQL texts of the listings kept prepared, the first `max` seen.
private final class ListingShapes: @unchecked Sendable {
    private let lock = NSLock()
    private var shapes = Set<String>()

    func admit(_ sql: String, max: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return shapes.contains(sql) || (shapes.count < max && shapes.insert(sql).inserted)
    }
}
