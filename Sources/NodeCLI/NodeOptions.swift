import ArgumentParser
import ClusterCLI
import ClusterKit
import NIOPosix
import ClusterNode
import Foundation
import Logging

/// The node's configuration file: what the daemons and the commands that work on the node's
/// files (its agent store, one-shot syncs) take.
public struct ConfigOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The node's cluster.json (default: $CLUSTERTOOLS_CONFIG, else /etc/clustertools/cluster.json).", valueName: "file"),
            completion: .file(extensions: ["json"]))
    public var config: String?

    public init() {}

    public static let defaultPath = "/etc/clustertools/cluster.json"

    public var configPath: String {
        config ?? ProcessInfo.processInfo.environment["CLUSTERTOOLS_CONFIG"] ?? Self.defaultPath
    }

    public func loadConfig() throws -> ClusterConfig { try ClusterConfig.load(path: configPath) }
}

/// How a command that asks a running node finds it: the configuration file, or the local socket
/// directly.
public struct NodeOptions: ParsableArguments {
    @OptionGroup public var configFile: ConfigOptions

    @Option(help: ArgumentHelp("Talk to the node through this local socket instead of reading its configuration.", valueName: "path"),
            completion: .file())
    public var socket: String?

    public init() {}

    public var configPath: String { configFile.configPath }

    public func loadConfig() throws -> ClusterConfig { try configFile.loadConfig() }

    public func socketPath() throws -> String {
        if let socket { return socket }
        return try loadConfig().localSocketPath
    }

    public func client(timeout: Double = 200) throws -> LocalClient {
        // The CLI's one event loop group and thread pool, named here rather than started
        // quietly inside the runtime.
        LocalClient(socketPath: try socketPath(), timeout: timeout, group: MultiThreadedEventLoopGroup.singleton,
                    threadPool: NIOThreadPool.singleton)
    }
}

/// Options of the daemons' `run`.
public struct LogOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log line format: text (the reference's layout) or json (one object per line).", valueName: "format"),
            completion: .list(LogFormat.allCases.map(\.rawValue)))
    public var logFormat: String = "text"

    @Option(help: ArgumentHelp("Lowest level logged: debug, info, warning or error.", valueName: "level"),
            completion: .list(["debug", "info", "warning", "error"]))
    public var logLevel: String = "info"

    public init() {}

    public func validate() throws {
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
        guard level != nil else { throw ValidationError("--log-level must be debug, info, warning or error") }
    }

    var level: Logger.Level? {
        switch logLevel {
        case "debug": return .debug
        case "info": return .info
        case "warning": return .warning
        case "error": return .error
        case "trace": return .trace
        default: return nil
        }
    }

    public func context(_ config: ClusterConfig) throws -> NodeContext {
        // With --json-errors, or stderr not a terminal, log lines on stderr are JSON like the
        // errors, so that stderr reads as JSON Lines.
        try NodeContext(config: config, logFormat: LogFormat(rawValue: logFormat) ?? .text, logLevel: level ?? .info,
                        stderrJSON: ErrorReporter.jsonErrors)
    }
}

/// `nodes`: the cluster's nodes as the master sees them (cluster_control -l).
public struct NodesCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List the cluster's nodes (JSON, or the cluster_control -l table).",
        discussion: "Asks the running node through its local socket; a worker forwards the question to its master. Exit 69 when the node is not running or a worker is not connected.")

    @OptionGroup public var node: NodeOptions

    @Flag(help: "Print the table cluster_control -l prints instead of JSON.")
    public var table = false

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let query: JSON = ["filter_node": nil, "offset": 0, "limit": 500, "sort": nil, "search": nil, "select": nil,
                           "filter_type": "all", "distinct": false]
        let answer = try await node.client().requestJSON(ClusterCommand.getNodes, query)
        if table { StandardStreams.write(HealthReport.nodesTable(answer)) } else { StandardStreams.writeJSONDocument(answer) }
    }
}

/// `health`: the master's health report (cluster_control -i).
public struct HealthCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show the cluster's health: every node, its last syncs and keepalive (JSON, or the cluster_control -i text).",
        discussion: "Asks the running node through its local socket; a worker forwards the question to its master. Exit 69 when the node is not running or a worker is not connected.")

    @OptionGroup public var node: NodeOptions

    @Flag(help: "Print what cluster_control -i prints instead of JSON.")
    public var table = false

    @Option(help: ArgumentHelp("Only these nodes (comma-separated names).", valueName: "names"),
            completion: .custom { words, _, prefix in await NodeNameCompletion.names(words: words, prefix: prefix) })
    public var nodes: String?

    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let filter: JSON = nodes.map { .array($0.split(separator: ",").map { JSON.string(String($0)) }) } ?? .null
        let answer = try await node.client().requestJSON(ClusterCommand.getHealth, filter)
        if table {
            let name = (try? node.loadConfig().clusterName) ?? "wazuh"
            StandardStreams.write(HealthReport.table(answer, clusterName: name))
        } else {
            StandardStreams.writeJSONDocument(answer)
        }
    }
}
