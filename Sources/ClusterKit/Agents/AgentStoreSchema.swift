import GRDB

/// The agent store's schema, as GRDB migrations: a store opened by a newer build is brought
/// forward in place, and every migration runs once, in its own transaction.
///
/// `agent` holds the reference's synced columns (AgentRecord.fields), plus:
/// - `labels`: JSON `[{"key","value"}]`, NULL when the agent has none;
/// - `groups`: the comma-joined group list in priority order (wazuh-db's `group` column), and
///   `group_hash` (GroupHash.agent of it), NULL when the agent has no groups;
/// - `group_sync_status`: on the master, `syncreq` until the next agent-groups delta carries it;
/// - `sync_status`, `change_seq`: on a worker, `syncreq` until the master has confirmed the row,
///   and the store's change counter at the write that made it so (see AgentStore);
/// - `date_add`: when the row was created (Unix seconds).
/// `agent_removed` keeps a worker's removals until the master confirms them; `group_removed` keeps
/// the master's removed agents that had groups until the next delta tells the workers;
/// `agent_deleted` (v2) remembers, on the master, the agents a worker removed and their last
/// keepalive, so that a stale row for one of them is skipped instead of bringing it back.
/// `agent_node_name` (v3) serves `agents.list` sorted by name: each node lists the rows whose
/// `node_name` is its own, in name order, and reads only the page it answers.
enum AgentStoreSchema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: agents, removals, change counter") { db in
            let info = AgentRecord.fields.map { "\($0.name) \($0.kind == .text ? "TEXT" : "INTEGER")" }.joined(separator: ",\n  ")
            try db.execute(sql: """
                CREATE TABLE agent (
                  id INTEGER PRIMARY KEY,
                  \(info),
                  labels TEXT,
                  groups TEXT,
                  group_hash TEXT,
                  group_sync_status TEXT NOT NULL DEFAULT 'synced',
                  sync_status TEXT NOT NULL DEFAULT 'syncreq',
                  change_seq INTEGER NOT NULL DEFAULT 0,
                  date_add INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX agent_info_syncreq ON agent(id) WHERE sync_status = 'syncreq';
                CREATE INDEX agent_groups_syncreq ON agent(id) WHERE group_sync_status = 'syncreq';
                CREATE INDEX agent_status_node ON agent(connection_status, node_name);
                CREATE INDEX agent_node ON agent(node_name);
                CREATE TABLE agent_removed (id INTEGER PRIMARY KEY, change_seq INTEGER NOT NULL);
                CREATE TABLE group_removed (id INTEGER PRIMARY KEY);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO meta (key, value) VALUES ('change_seq', 0);
                """)
        }
        m.registerMigration("v2: agents deleted on the master") { db in
            try db.execute(sql: "CREATE TABLE agent_deleted (id INTEGER PRIMARY KEY, last_keepalive INTEGER)")
        }
        m.registerMigration("v3: agents by node and name") { db in
            try db.execute(sql: "CREATE INDEX agent_node_name ON agent(node_name, name)")
        }
        return m
    }
}
