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
        unavailable, 75 timeout, 77 refused by the master, 78 bad configuration.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Run.self, WorkerSyncCommand.self, WorkerAgentsCommand.self, NodesCommand.self, HealthCommand.self])
}

struct Run: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the worker daemon in the foreground until SIGTERM or SIGINT.",
        discussion: """
        Logs go to stderr and <node.root>/logs/cluster.log. With --on-change, after every sync that \
        changed files the command runs once (through /bin/sh) with the apply report as JSON on its \
        stdin: the hook to reload whatever reads the synchronised files.
        """)

    @OptionGroup var node: NodeOptions
    @OptionGroup var log: LogOptions

    @Option(help: ArgumentHelp("Run this shell command after a sync that changed files; the apply report (JSON) is on its stdin.", valueName: "command"))
    var onChange: String?

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let config = try node.loadConfig()
        guard config.nodeType == .worker else {
            throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; run cl-master for the master")
        }
        let context = try log.context(config)
        let shutdown = ShutdownSignal()
        shutdown.installSignalHandlers()
        do {
            try await WorkerNode(context: context, onChange: onChange).run(until: shutdown)
        } catch {
            await context.shutdown()
            throw error
        }
        await context.shutdown()
    }
}
