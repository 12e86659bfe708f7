import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode
import Foundation

// The `agents` commands work on the node's agent store, <node.root>/var/db/agents.db, found
// through --config. They write the SQLite file directly, which is safe while the daemon runs
// (WAL mode; writers wait for each other).

/// `cl-worker agents`: upsert, remove, list.
public struct WorkerAgentsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Manage the worker's agents: upsert and remove them (JSON Lines), list them (JSON).",
        discussion: "The running worker pushes every change to the master (agent-info sync) within intervals.worker.agent_info_change_delay seconds.",
        subcommands: [AgentsUpsertCommand.self, AgentsRemoveCommand.self, AgentsListCommand.self])
    public init() {}
}

/// `cl-master agents`: list, set-groups.
public struct MasterAgentsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "The master's agents: list them (JSON) and assign their groups.",
        discussion: "The master's agents arrive from the workers (agent-info sync); their groups are assigned here and reach every worker through agent-groups sync.",
        subcommands: [AgentsListCommand.self, AgentsSetGroupsCommand.self])
    public init() {}
}

/// Per-line outcome of a JSON Lines command: printed as one JSON document on stdout; any bad
/// line makes the command exit 65 after the good lines have landed.
struct LineReport {
    var verb: String
    var done = 0
    var errors: [(line: Int, message: String)] = []

    var json: JSON {
        [verb: .int(Int64(done)), "failed": .int(Int64(errors.count)),
         "errors": .array(errors.map { ["line": .int(Int64($0.line)), "error": .string($0.message)] })]
    }

    func finish() throws {
        StandardStreams.writeJSONDocument(json)
        guard !errors.isEmpty else { return }
        let first = errors.prefix(3).map { "line \($0.line): \($0.message)" }.joined(separator: "; ")
        throw ClusterError.badData("\(errors.count) of \(done + errors.count) lines failed (\(first)\(errors.count > 3 ? "; ..." : ""))")
    }
}

/// Reads JSON Lines from stdin in batches; blank lines are skipped, lines that do not parse or
/// do not check are reported with their number.
func readJSONLines<T>(batch: Int, report: inout LineReport, parse: (JSON) throws -> T,
                      flush: ([(line: Int, value: T)], inout LineReport) throws -> Void) throws {
    try readLines(batch: batch, report: &report, parse: { bytes, lineNo in try parse(try JSON.parse(bytes, source: "line \(lineNo)")) },
                  flush: flush)
}

/// The same, with each line's bytes handed to `parse` as they are.
func readLines<T>(batch: Int, report: inout LineReport, parse: (UnsafeRawBufferPointer, Int) throws -> T,
                  flush: ([(line: Int, value: T)], inout LineReport) throws -> Void) throws {
    var pending = [(line: Int, value: T)]()
    try StandardStreams.readLines { bytes, lineNo in
        let trimmed = bytes.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        do {
            pending.append((lineNo, try Array(trimmed).withUnsafeBytes { try parse($0, lineNo) }))
        } catch let e as ClusterError {
            // The line number is reported apart; the parser's message starts with it too.
            let prefix = "line \(lineNo): "
            report.errors.append((lineNo, e.message.hasPrefix(prefix) ? String(e.message.dropFirst(prefix.count)) : e.message))
        }
        if pending.count >= batch {
            try flush(pending, &report)
            pending.removeAll(keepingCapacity: true)
        }
    }
    if !pending.isEmpty { try flush(pending, &report) }
    report.errors.sort { $0.line < $1.line }
}

func openStore(_ node: ConfigOptions, expecting type: ClusterConfig.NodeType) throws -> (ClusterConfig, AgentStore) {
    let config = try node.loadConfig()
    guard config.nodeType == type else {
        throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; this command is for a \(type.rawValue)")
    }
    return (config, try AgentStore(config: config))
}

public struct AgentsUpsertCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "upsert",
        abstract: "Add or update agents from JSON Lines on stdin (one agent per line).",
        discussion: """
        Each line is an object with "id" ("001" or 1) and any of the reference's agent-info fields: \
        name, ip, os_name, os_version, os_major, os_minor, os_codename, os_build, os_platform, \
        os_uname, os_arch, version, config_sum, merged_sum, manager_host, node_name, \
        last_keepalive (Unix seconds), connection_status (never_connected, pending, active, \
        disconnected), disconnection_time, group_config_status ("synced", "not synced"), \
        status_code, and labels ([{"key","value"}] or {"key": "value"}). A new agent needs a name; \
        fields left out keep their stored value; node_name defaults to this node. Groups are \
        assigned on the master.

        Good lines land even when others are bad. Prints {"upserted","failed","errors":[{"line","error"}]}; \
        exit 65 when any line failed.
        """)

    @OptionGroup public var node: ConfigOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() throws {
        try StandardStreams.requireInput("agents as JSON Lines (one object per line)")
        let (config, store) = try openStore(node, expecting: .worker)
        var report = LineReport(verb: "upserted")
        try readLines(batch: 5000, report: &report, parse: { bytes, _ in try AgentChunkReader.record(bytes, strict: true) }) { batch, report in
            let errors = try store.upsert(batch.map(\.value), defaultNode: config.nodeName)
            for (i, message) in errors { report.errors.append((batch[i].line, message)) }
            report.done += batch.count - errors.count
        }
        try report.finish()
    }
}

public struct AgentsRemoveCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove agents named by id, as arguments or as JSON Lines on stdin.",
        discussion: """
        Each stdin line is {"id": "001"} or just "001" or 1. The running worker tells the master, \
        which removes the agent if this worker still owns it. Prints {"removed","failed","errors"}; \
        exit 65 when any id was bad or unknown.
        """)

    @Argument(help: ArgumentHelp("Agent ids (\"001\" or 1); without any, ids are read from stdin.", valueName: "id"))
    public var ids: [String] = []

    @OptionGroup public var node: ConfigOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    static func id(_ v: JSON) throws -> Int {
        if case .object(let o) = v { return try AgentRecord.parseID(o["id"]) }
        return try AgentRecord.parseID(v)
    }

    public func run() throws {
        if ids.isEmpty { try StandardStreams.requireInput("agent ids as JSON Lines", hint: "pipe them in or give them as arguments") }
        let (_, store) = try openStore(node, expecting: .worker)
        var report = LineReport(verb: "removed")
        let flush: ([(line: Int, value: Int)], inout LineReport) throws -> Void = { batch, report in
            let errors = try store.remove(ids: batch.map(\.value))
            for (i, message) in errors { report.errors.append((batch[i].line, message)) }
            report.done += batch.count - errors.count
        }
        if ids.isEmpty {
            try readJSONLines(batch: 5000, report: &report, parse: Self.id, flush: flush)
        } else {
            var batch = [(line: Int, value: Int)]()
            for (i, text) in ids.enumerated() {
                do { batch.append((i + 1, try AgentRecord.parseID(.string(text)))) } catch let e as ClusterError {
                    report.errors.append((i + 1, e.message))
                }
            }
            try flush(batch, &report)
            report.errors.sort { $0.line < $1.line }
        }
        try report.finish()
    }
}

public struct AgentsListCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the node's agents as JSON: {\"items\": [...], \"totalItems\": n}.",
        discussion: """
        totalItems counts every agent that passes the filters, before offset and limit. Each item \
        has the agent-info fields (left out when unset), labels, group (in priority order), \
        group_hash, group_sync_status, sync_status (on a worker: synced once the master confirmed \
        it) and date_add. Ids are "001"-style strings.
        """)

    @OptionGroup public var node: ConfigOptions

    @Option(help: ArgumentHelp("Only agents with these connection statuses (comma-separated: never_connected, pending, active, disconnected).", valueName: "list"),
            completion: .list(["never_connected", "pending", "active", "disconnected"]))
    public var status: String?

    @Option(name: .customLong("nodes"), help: ArgumentHelp("Only agents reporting to these nodes (comma-separated names).", valueName: "names"),
            completion: .custom { words, _, prefix in await NodeNameCompletion.names(words: words, prefix: prefix) })
    public var nodeNames: String?

    @Option(help: ArgumentHelp("Only agents in any of these groups (comma-separated).", valueName: "list"))
    public var group: String?

    @Option(help: ArgumentHelp("Only these fields (comma-separated); id is always included.", valueName: "fields"))
    public var select: String?

    @Option(help: ArgumentHelp("Sort keys, comma-separated, each with an optional + or - prefix (default: id); write --sort=-name for a leading -.", valueName: "keys"))
    public var sort: String?

    @Option(help: ArgumentHelp("Skip this many agents.", valueName: "n"))
    public var offset: Int = 0

    @Option(help: ArgumentHelp("Return at most this many agents (default: all).", valueName: "n"))
    public var limit: Int?

    @OptionGroup public var common: CommonOptions

    public init() {}

    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public func run() throws {
        var q = AgentQuery()
        q.statuses = Self.list(status)
        q.nodes = Self.list(nodeNames)
        q.groups = Self.list(group)
        if let select { q.select = try AgentQuery.parseSelect(select) }
        if let sort { q.sort = try AgentQuery.parseSort(sort) }
        q.offset = offset
        q.limit = limit
        try q.validate()
        let store = try AgentStore(config: try node.loadConfig())
        StandardStreams.writeJSONDocument(try store.list(q))
    }
}

public struct AgentsSetGroupsCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "set-groups",
        abstract: "Assign agents' groups (the list replaces the agent's groups, in priority order).",
        discussion: """
        Either ids as arguments with --groups, or JSON Lines on stdin: {"id": "001", "groups": \
        ["default", "web"]} (an empty list clears the groups). The running master sends the change \
        to every worker with its next agent-groups delta. Prints {"updated","failed","errors"}; \
        exit 65 when any line was bad or named an agent the master does not have.
        """)

    @Argument(help: ArgumentHelp("Agent ids (\"001\" or 1); without any, JSON Lines are read from stdin.", valueName: "id"))
    public var ids: [String] = []

    @Option(help: ArgumentHelp("The groups for the agents given as arguments (comma-separated; \"\" clears).", valueName: "list"))
    public var groups: String?

    @OptionGroup public var node: ConfigOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    public func validate() throws {
        if !ids.isEmpty && groups == nil { throw ValidationError("give --groups with agent ids (or JSON Lines on stdin without ids)") }
        if ids.isEmpty && groups != nil { throw ValidationError("--groups needs agent ids as arguments") }
    }

    public func run() throws {
        if ids.isEmpty {
            try StandardStreams.requireInput("{\"id\", \"groups\"} JSON Lines", hint: "pipe them in or give ids as arguments with --groups")
        }
        let (_, store) = try openStore(node, expecting: .master)
        var report = LineReport(verb: "updated")
        let flush: ([(line: Int, value: AgentGroupsEntry)], inout LineReport) throws -> Void = { batch, report in
            let errors = try store.setGroups(batch.map(\.value))
            for (i, message) in errors { report.errors.append((batch[i].line, message)) }
            report.done += batch.count - errors.count
        }
        if ids.isEmpty {
            try readJSONLines(batch: 5000, report: &report, parse: { try AgentGroupsEntry(json: $0) }, flush: flush)
        } else {
            let list = try AgentGroups.parse(.string(groups ?? ""))
            var batch = [(line: Int, value: AgentGroupsEntry)]()
            for (i, text) in ids.enumerated() {
                do { batch.append((i + 1, AgentGroupsEntry(id: try AgentRecord.parseID(.string(text)), groups: list))) } catch let e as ClusterError {
                    report.errors.append((i + 1, e.message))
                }
            }
            try flush(batch, &report)
            report.errors.sort { $0.line < $1.line }
        }
        try report.finish()
    }
}

public struct SyncAgentInfoCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agent-info",
        abstract: "Push the agents changed since the last confirmed push to the master, once.",
        discussion: """
        Connects, says hello, asks the master's permission, sends the pending agents and removals \
        and waits for the master's result; only then are they marked synced. Prints \
        {"granted", "agents", "removed_agents", "chunks", "updated_chunks", "error_messages", \
        "time_spent"}. \
        Logs go to <node.root>/logs/cluster.log.

        One push is the only mode (the daemon, cl-worker run, pushes continuously); --once, which \
        older cron lines give, is still accepted.

        Exit status: 0 pushed (or nothing to push), 65 the master rejected some agents, 69 master \
        unavailable, 75 timeout or master busy, 77 refused by the master, 78 bad configuration.
        """)

    @Flag(help: .hidden)
    public var once = false

    @OptionGroup public var node: ConfigOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let config = try node.loadConfig()
        guard config.nodeType == .worker else {
            throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; sync runs on a worker")
        }
        let context = try NodeContext(config: config, logToStderr: false)
        let report: JSON
        do {
            report = try await WorkerNode(context: context).syncAgentInfoOnce()
        } catch {
            await context.shutdown()
            throw error
        }
        await context.shutdown()
        StandardStreams.writeJSONDocument(report)
        if let errors = report["error_messages"]?.arrayValue, !errors.isEmpty {
            throw ClusterError.badData("the master could not apply \(errors.count) agents: \(errors.prefix(3).compactMap(\.stringValue).joined(separator: "; "))")
        }
    }
}
