import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode
import NodeCLI

@main
struct CLWorker: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-worker",
        abstract: "A cluster worker: the daemon, one-shot sync steps, and queries of a running worker.",
        discussion: """
        The worker keeps one connection to node.master (Fernet with the cluster key, wire-compatible \
        with a Wazuh 4.9.2 master), sends keepalives, reconnects with exponential backoff and full \
        jitter, checks its files' integrity every intervals.worker.sync_integrity seconds and applies \
        what the master sends, atomically and confined to node.root. It pushes its agents \
        (<node.root>/var/db/agents.db) to the master and applies the agent groups the master sends.

        Exit status: 0 ok, 64 usage, 65 bad data, 66 configuration file missing, 69 master or node \
        unavailable (nothing listening), 75 timeout or a daemon already running for this root, 77 \
        refused by the master (or the cluster key differs) or node.root not writable, 78 bad \
        configuration (node.root missing).
        """,
        version: ToolVersion.versionLine,
        subcommands: [Run.self, InitCommand.self, Sync.self, WorkerAgentsCommand.self, NodesCommand.self, HealthCommand.self])
}

struct Run: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the worker daemon in the foreground until SIGTERM or SIGINT.",
        discussion: """
        Logs go to stderr and <node.root>/logs/cluster.log. node.root must exist and be writable \
        (cl-worker init makes it). One daemon runs per root: it holds a lock on \
        <node.root>/var/run/clustertools.pid, and a second one exits 75. When NOTIFY_SOCKET is set \
        it tells systemd READY=1 once its local socket serves. SIGHUP opens the log file again \
        and reloads intervals and limits from the configuration. With --on-change, after every sync that \
        changed files the command runs once (through /bin/sh) with the apply report as JSON on its \
        stdin: the hook to reload whatever reads the synchronised files.
        """)

    @OptionGroup var node: ConfigOptions
    @OptionGroup var log: LogOptions

    @Option(help: ArgumentHelp("Run this shell command after a sync that changed files; the apply report (JSON) is on its stdin.", valueName: "command"))
    var onChange: String?

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let onChange = self.onChange
        try await DaemonLauncher.run(tool: "cl-worker", type: .worker, wrongType: "run cl-master for the master", node: node, log: log) {
            context, shutdown in try await WorkerNode(context: context, onChange: onChange).run(until: shutdown)
        }
    }
}

struct Sync: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one sync step against the master and exit with its outcome (for cron).",
        subcommands: [SyncIntegrity.self, SyncAgentInfoCommand.self])
}

struct SyncIntegrity: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrity",
        abstract: "One integrity cycle: send this worker's snapshot, apply what the master sends back.",
        discussion: """
        Connects as node.name (so it cannot run while this worker's daemon is connected: the master \
        refuses a second connection with the same name, exit 77), asks the master for integrity \
        permission until it is granted, sends the snapshot and applies the master's answer, staged \
        and verified like the daemon does. Prints {"outcome":"in_sync"} or {"outcome":"synced", \
        "report":{...}} (the apply report). Exit 0 when this worker holds the master's files \
        afterwards; 69 master unavailable, 75 timeout, 77 refused, 65 bad data from the master.

        One cycle is the only mode (the loop is cl-worker run); --once, which older cron lines \
        give, is still accepted. A crontab line:

        */5 * * * * cl-worker sync integrity -c /etc/clustertools/cluster.json
        """)

    @Flag(help: .hidden)
    var once = false

    @Option(help: ArgumentHelp("Give up after this many seconds.", valueName: "seconds"))
    var timeout: Double = 120

    @OptionGroup var node: ConfigOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let config = try node.loadConfig()
        guard config.nodeType == .worker else {
            throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; sync runs on a worker")
        }
        let context = try log.context(config)
        let outcome: IntegrityOutcome
        do {
            outcome = try await WorkerNode(context: context).syncIntegrityOnce(timeout: timeout)
        } catch let e as ClusterError where [3028, 3029, 3030, 3031].contains(e.code) {
            await context.shutdown()
            throw ClusterError(code: e.code, e.message, exit: .noPermission)
        } catch {
            await context.shutdown()
            throw error
        }
        await context.shutdown()
        switch outcome {
        case .inSync: StandardStreams.writeJSONDocument(["outcome": "in_sync"])
        case .synced(let report): StandardStreams.writeJSONDocument(["outcome": "synced", "report": report.toJSON()])
        }
    }
}
