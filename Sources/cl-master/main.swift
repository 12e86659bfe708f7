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
        or the node is not running, 75 timeout, 78 bad configuration.
        """,
        version: ToolVersion.versionLine,
        subcommands: [Run.self, NodesCommand.self, HealthCommand.self, MasterAgentsCommand.self])

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
        Logs go to stderr and <node.root>/logs/cluster.log. Once listening, the master writes \
        <node.root>/var/run/cl-master.json with its pid and the port it bound (useful with \
        node.port 0, which lets the system choose). On SIGTERM or SIGINT it stops accepting, closes \
        every connection and removes its socket file.
        """)

    @OptionGroup var node: ConfigOptions
    @OptionGroup var log: LogOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let config = try node.loadConfig()
        guard config.nodeType == .master else {
            throw ClusterError.config("\(node.configPath): node.type is \"\(config.nodeType.rawValue)\"; run cl-worker for a worker")
        }
        let context = try log.context(config)
        let shutdown = ShutdownSignal()
        shutdown.installSignalHandlers()
        do {
            try await MasterNode(context: context).run(until: shutdown)
        } catch {
            await context.shutdown()
            throw error
        }
        await context.shutdown()
    }
}
