import GRDB

extension AgentStore {
    /// Records which master this worker is connected to (`identity`: its name and election
    /// term), and when that master differs from the last one recorded, marks every agent row
    /// for pushing again: a master elected after a failover may lack rows the last one had
    /// (masters do not replicate their stores). Returns the rows marked (0 when the master is
    /// the same or none was recorded yet).
    public func noteMaster(_ identity: String) async throws -> Int {
        let stamp = AgentStore.identityStamp(identity)
        return try await write { db in
            let last = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'master_identity'")
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('master_identity', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [stamp])
            guard let last, last != stamp else { return 0 }
            try db.execute(sql: "UPDATE agent SET sync_status = 'syncreq' WHERE sync_status = 'synced'")
            return db.changesCount
        }
    }

    /// A stable 63-bit FNV-1a stamp of a master's identity (the meta table holds integers).
    static func identityStamp(_ identity: String) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in identity.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return Int64(bitPattern: h >> 1)
    }
}
