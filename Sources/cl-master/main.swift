import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode
import NodeCLI

@main
struct CLMaster: ToolCommand {
    static let configuration = CommandConfiguration(
        commandName: "cl-master",
        abstract: "The cluster master: the daemon, and queries of a running master.",
        discussion: """
        The master listens for workers on node.bind:node.port (TCP, Fernet with the cluster key, \
        wire-compatible with Wazuh 4.9.2 workers), serves its local socket (node.local_socket, mode \
        0660), recalculates its files' integrity every intervals.master.recalculate_integrity \
        seconds and synchronises each worker that asks, applies the workers' agent-info to its \
        agent store (<node.root>/var/db/agents.db) and broadcasts agent groups to the workers.

        Exit status: 0 ok, 64 usage, 65 bad data, 66 configuration file missing, 69 cannot listen \
        (the port is in use) or the node is not running, 75 timeout or a daemon already running \
        for this root, 77 no permission (node.root not writable), 78 bad configuration (node.root \
        missing).
        """,
        version: ToolVersion.versionLine,
        subcommands: [Run.self, InitCommand.self, NodesCommand.self, HealthCommand.self, MasterAgentsCommand.self, HACommand.self])

    /// Every cluster.json key as JSON, for bin/gen-docs (cluster.json(5)).
    @Flag(help: .hidden)
    var dumpConfigSchema = false

    func run() async throws {
        guard dumpConfigSchema else { throw CleanExit.helpRequest(self) }
        StandardStreams.write(JSONWriter.compact.string(ConfigSchema.toJSON()) + "\n")
    }
}

struct Run: ToolCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the master daemon in the foreground until SIGTERM or SIGINT.",
        discussion: """
        Logs go to stderr and <node.root>/logs/cluster.log. node.root must exist and be writable \
        (cl-master init makes it). One daemon runs per root: it holds a lock on \
        <node.root>/var/run/clustertools.pid, and a second one exits 75. Once listening, the \
        master writes <node.root>/var/run/cl-master.json with its pid and the port it bound \
        (useful with node.port 0, which lets the system choose), and tells systemd READY=1 when \
        NOTIFY_SOCKET is set. SIGHUP opens the log file again and reloads intervals and limits \
        from the configuration. On SIGTERM or SIGINT it stops accepting, closes every connection \
        and removes its socket file.
        """)

    @OptionGroup var node: ConfigOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await DaemonLauncher.run(tool: "cl-master", type: .master, wrongType: "run cl-worker for a worker", node: node, log: log) {
            context, shutdown in try await MasterNode(context: context).run(until: shutdown)
        }
    }
}
