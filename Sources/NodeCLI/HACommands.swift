import ArgumentParser
import ClusterCLI
import ClusterKit
import ClusterNode
import NIOPosix

/// `cl-master ha`: master failover on etcd (docs/HA.md).
public struct HACommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ha",
        abstract: "Master failover: who leads, and a planned hand-over.",
        discussion: "Needs the ha section in the master's configuration (etcd's endpoints, the election). Only the leader listens for workers; the other masters wait, and one of them takes over when the leader's etcd lease expires or it resigns.",
        subcommands: [HAStatusCommand.self, HAResignCommand.self])
    public init() {}
}

/// `cl-master ha status`: etcd's view of the election, and this root's master's own view.
public struct HAStatusCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the election: the leader, its term, every master campaigning, and this master's own state (JSON).",
        discussion: """
        Asks etcd (ha.etcd) for every master campaigning in the election ha.election, in election \
        order: the first is the leader and its created revision is its term. When the master of \
        this configuration is running, its own view is added under "local": its role, whether it \
        serves workers, how many are connected, and why it is not leading when it could be (etcd \
        unreachable, fenced). Exit 69 when etcd cannot be reached, 78 when the configuration has \
        no ha section.
        """)

    @OptionGroup public var node: NodeOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let config = try node.loadConfig()
        let local: JSON
        do {
            local = try await node.client(timeout: 10).requestJSON(ClusterCommand.haStatus, nil)
        } catch {
            local = ["role": "not running", "note": .string("\(error)")]
        }
        do {
            var answer = try await HAStatus.query(config, group: MultiThreadedEventLoopGroup.singleton)
            answer["local"] = local
            StandardStreams.writeJSONDocument(answer)
        } catch let e as ClusterError where e.exit == .unavailable {
            // etcd unreachable: what the master itself says is what explains it.
            StandardStreams.writeJSONDocument(["error": .string(e.message), "local": local])
            throw e
        }
    }
}

/// `cl-master ha resign`: the leader hands over on purpose.
public struct HAResignCommand: ToolCommand {
    public static let configuration = CommandConfiguration(
        commandName: "resign",
        abstract: "Make the running leader hand leadership over (for maintenance).",
        discussion: """
        Tells the master of this configuration, which must be the leader, to stop serving and \
        resign in etcd; another master is elected at once and the workers reconnect to it. The \
        master stays up as a follower and campaigns again after one renewal interval. Exit 69 \
        when the master is not running or is not the leader, 78 when it has no ha section.
        """)

    @OptionGroup public var node: NodeOptions
    @OptionGroup public var common: CommonOptions

    public init() {}

    public func run() async throws {
        let answer = try await node.client(timeout: 20).requestJSON(ClusterCommand.haResign, nil)
        StandardStreams.writeJSONDocument(answer)
    }
}
