import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode

/// `init`: makes a node's root and the directories under it, deliberately (a daemon never
/// creates its root).
public struct InitCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node's root directory and the directories the node keeps in it.",
        discussion: """
        Creates the root (--root, else node.root of the configuration) with var/run, var/db, logs \
        and queue/cluster under it, and the local socket's directory when the configuration names \
        one; what exists is left alone, so it can run again. Prints {"root":...,"created":[...]}. \
        The daemons refuse to start on a root that does not exist (exit 78) or that they cannot \
        write (exit 77). Exit 77 when a directory cannot be created for lack of permission.
        """)

    @Option(help: ArgumentHelp("The root to create (default: node.root of the configuration).", valueName: "dir"))
    public var root: String?

    /// The node's cluster.json, read when --root is not given.
    @OptionGroup public var configFile: ConfigOptions

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        var target = root
        var extra: [String] = []
        if target == nil || configFile.config != nil {
            let c = try configFile.loadConfig()
            if target == nil { target = c.root }
            if target == c.root { extra.append(FileIO.parentDirectory(of: c.localSocket)) }
        }
        guard let target else { return }
        let created = try NodeRoot.initialize(target, extra: extra.filter { $0 != "." })
        StandardStreams.writeJSONDocument(["root": .string(target), "created": .array(created.map { .string($0) })])
    }
}
